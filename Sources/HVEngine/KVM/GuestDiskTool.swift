import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// qemu-img and qemu-io on a guest's own disk, as the guest's QEMU user.
/// A guest writes its disk raw, so what these tools parse (qcow2 metadata,
/// the partition table) is the guest's to forge through a QEMU it broke out
/// of: hvd, root, never parses it itself. The guest's user may not open the
/// file (root's, mode 0600: it reaches QEMU as a descriptor), so for the
/// run the file is lent to that user and afterwards is exactly as it was;
/// the tool opens the descriptor hvd checked (`/proc/self/fd/3`, the format
/// named, never probed), not the name a link could be planted at.
public struct GuestDiskTool: Sendable {
    public let url: URL
    public let format: DiskImage.Format
    /// nil: as hvd's own user (tests, and development without root).
    public let identity: GuestIdentity?

    public init(url: URL, format: DiskImage.Format, identity: GuestIdentity?) {
        self.url = url
        self.format = format
        self.identity = identity
    }

    /// The disk as the tools open it (`--image-opts`).
    public var imageOptions: String { "driver=\(format.rawValue),file.driver=file,file.filename=/proc/self/fd/3" }

    /// Runs `argv` (with `imageOptions` where it names the disk) with the disk
    /// as descriptor 3 and `alsoPass` as 4, 5, … (lent by the caller).
    public func run(_ argv: [String], alsoPass: [Int32] = [], timeout: Double) throws -> Command.Output {
        let fd = try DiskDescriptors.openChecked(url, flags: O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw HVError.posix("cannot read \(url.path)", errno: errno) }
        guard let identity, GuestIdentity.dropsPrivileges else {
            return try Spawn.runAs(GuestIdentity(uid: 0, gid: 0, groups: []), argv, keepFDs: [fd] + alsoPass, timeout: timeout)
        }
        // A block device stays root's: the guest's user reaches it only if its mode says so.
        let lend = st.st_mode & S_IFMT == S_IFREG && st.st_uid != identity.uid
        if lend {
            guard fchown(fd, identity.uid, st.st_gid) == 0, fchmod(fd, 0o600) == 0 else {
                throw HVError.posix("lend \(url.path) to the guest's user for \(argv.first ?? "a tool")", errno: errno)
            }
        }
        // Back as it was, whatever happened (a hvd that dies here leaves it the
        // guest's user's, which the next start gives back to root: DiskDescriptors.giveBack).
        defer {
            if lend {
                _ = fchown(fd, st.st_uid, st.st_gid)
                _ = fchmod(fd, st.st_mode & 0o7777)
            }
        }
        return try Spawn.runAs(identity, argv, keepFDs: [fd] + alsoPass, timeout: timeout)
    }

    /// Runs and throws `what` failed (with the tool's words) unless it succeeded.
    @discardableResult
    public func check(_ argv: [String], alsoPass: [Int32] = [], what: String, timeout: Double = 600) throws -> String {
        let out = try run(argv, alsoPass: alsoPass, timeout: timeout)
        guard out.status == 0, !out.timedOut else {
            let why =
                out.timedOut
                ? "did not finish within \(Int(timeout)) s"
                : out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(600).description
            throw HVError(
                .io, "\(what) failed: \(why)",
                hint: "check the disk with: qemu-img check \(url.path)")
        }
        return out.stdout
    }

    /// The first `bytes` of the disk's content (through the format), read by qemu-io.
    public func head(_ bytes: Int = 1024) throws -> Data {
        let out = try run(["qemu-io", "-r", "--image-opts", "-c", "read -v 0 \(bytes)", imageOptions], timeout: 30)
        guard out.status == 0, !out.timedOut else {
            throw HVError(.badDiskImage, "cannot read the start of \(url.path): \(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(400))")
        }
        return Self.hexDump(out.stdout, upTo: bytes)
    }

    /// The bytes of qemu-io's `read -v` dump ("00000000:  eb 63 90 … .c.."):
    /// an unprivileged process's output, so only well-formed lines count, in order, bounded.
    static func hexDump(_ text: String, upTo limit: Int) -> Data {
        var out = Data()
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 8, let offset = Int(parts[0], radix: 16), offset == out.count else { continue }
            for token in parts[1].split(separator: " ", omittingEmptySubsequences: true).prefix(16) {
                guard token.count == 2, let byte = UInt8(token, radix: 16) else { break }
                out.append(byte)
            }
            if out.count >= limit { break }
        }
        return out.prefix(limit)
    }
}
