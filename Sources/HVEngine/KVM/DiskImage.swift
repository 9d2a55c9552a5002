import Foundation
import HVCore
import HVHost

/// A KVM guest's disk image: where it is, whether QEMU can use it, whether a
/// system is installed on it, and creating it at the first start.
public struct DiskImage: Sendable, Equatable {
    public enum Format: String, Sendable, Codable { case qcow2, raw }

    public let url: URL
    /// True when the configuration names no disk: the image lives in (and goes with) the guest folder.
    public let inGuestFolder: Bool

    public init(url: URL, inGuestFolder: Bool) {
        self.url = url
        self.inGuestFolder = inGuestFolder
    }

    /// `[Guest\Disk] Image`, relative to HV_ROOT unless absolute; empty: disk.qcow2 in the guest folder.
    public static func resolve(_ config: GuestConfig, layout: HostLayout, folder: GuestFolder) -> DiskImage {
        let text = config.diskImage.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return DiskImage(url: folder.defaultDisk, inGuestFolder: true) }
        return DiskImage(url: layout.resolve(text), inGuestFolder: false)
    }

    public var exists: Bool { FileManager.default.fileExists(atPath: url.path) }

    /// Formats by file name: probing a raw image's content for a format is unsafe
    /// (a guest could write a qcow2 header into its own disk).
    public var format: Format { url.pathExtension.lowercased() == "qcow2" ? .qcow2 : .raw }

    public struct Inspection: Sendable, Equatable {
        public var virtualSizeBytes: UInt64
        public var allocatedBytes: UInt64
        /// A partition table (MBR or GPT) is on the disk: an installer has written it.
        public var hasSystem: Bool
    }

    /// Checks an existing image without changing it: a qcow2 whose metadata is
    /// corrupt, a file that is not what its name says, or one that another
    /// program has open each give a clear error. The tools run as the guest's
    /// user (`identity`; GuestDiskTool), never as root: the image is the guest's writing.
    public func inspect(as identity: GuestIdentity?) throws -> Inspection {
        let tool = GuestDiskTool(url: url, format: format, identity: identity)
        let info = try tool.run(["qemu-img", "info", "--output=json", "--image-opts", tool.imageOptions], timeout: 30)
        guard info.status == 0, !info.timedOut else { throw problem(info.stderr) }
        guard let json = try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any] else {
            throw HVError(.badDiskImage, "qemu-img info gave no answer for \(url.path)")
        }
        if format == .qcow2 {
            let check = try tool.run(["qemu-img", "check", "--image-opts", tool.imageOptions], timeout: 300)
            // 0: clean; 3: leaked clusters only (harmless, space is just not reused).
            guard (check.status == 0 || check.status == 3) && !check.timedOut else {
                let detail = (check.stdout + check.stderr).split(separator: "\n").prefix(4).joined(separator: "; ")
                throw HVError(
                    .badDiskImage, "the disk image \(url.path) is corrupt: \(detail)",
                    hint: "nothing was started or changed. Copy the file aside, then try `qemu-img check -r all \(url.path)`, or move it away to install afresh"
                )
            }
        }
        let head: Data
        do { head = try tool.head(1024) } catch { throw problem((error as? HVError)?.message ?? "\(error)") }
        return Inspection(
            virtualSizeBytes: (json["virtual-size"] as? NSNumber)?.uint64Value ?? 0,
            allocatedBytes: (json["actual-size"] as? NSNumber)?.uint64Value ?? 0,
            hasSystem: Self.hasPartitionTable(head))
    }

    private func problem(_ stderr: String) -> HVError {
        let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.contains("lock") {
            return HVError(
                .badDiskImage, "the disk image \(url.path) is in use by another program: \(text)",
                hint: "another guest or qemu-img has it open; find it with: fuser -v \(url.path)")
        }
        return HVError(
            .badDiskImage, "the disk image \(url.path) cannot be used as \(format.rawValue): \(text)",
            hint: "nothing was started or changed. Name the file by its format (.qcow2, else it is used raw) or move it away to install afresh")
    }

    static func hasPartitionTable(_ head: Data) -> Bool {
        let bytes = [UInt8](head)
        guard bytes.count >= 520 else { return false }
        let mbr = bytes[510] == 0x55 && bytes[511] == 0xAA
        let gpt = Array(bytes[512..<520]) == Array("EFI PART".utf8)
        return mbr || gpt
    }

    /// Creates a thin (sparse) qcow2 of `sizeGiB`, with its directory. Writes
    /// to a temporary name first: a failed create leaves no half image behind.
    public func create(sizeGiB: Int) throws {
        let fm = FileManager.default
        // 0755 whatever the umask (the folder may hold what others read, such as a shared ISO).
        try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).creating")
        try? fm.removeItem(at: tmp)
        let r = try Command.run(
            [
                "qemu-img", "create", "-q", "-f", format.rawValue,
                "-o", format == .qcow2 ? "lazy_refcounts=on" : "preallocation=off",
                tmp.path, "\(sizeGiB)G",
            ], timeout: 120)
        guard r.status == 0 else {
            try? fm.removeItem(at: tmp)
            throw HVError(
                .io, "cannot create the disk image \(url.path): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))",
                hint: "check free space and permissions of \(url.deletingLastPathComponent().path)")
        }
        // root's alone: the guest's QEMU gets it as a descriptor (InheritedFD), no other user reads it.
        chmod(tmp.path, 0o600)
        guard rename(tmp.path, url.path) == 0 else { throw HVError.posix("rename \(tmp.path)", errno: errno) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
