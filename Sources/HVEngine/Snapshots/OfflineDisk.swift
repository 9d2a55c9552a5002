import Foundation
import HVCore
#if canImport(Glibc)
import Glibc
#endif

/// What a snapshot does to a guest's disk: a qcow2 internal snapshot, made
/// by QEMU while the guest runs (QMP, in hvd) or by qemu-img while it is
/// stopped (`OfflineDisk`).
public protocol DiskSnapshotting {
    func create(_ tag: String) throws
    func delete(_ tag: String) throws
    /// The disk's snapshot tags.
    func tags() throws -> [String]
}

/// A stopped guest's qcow2 disk, changed by qemu-img. A guest writes its
/// disk raw, so the qcow2 metadata qemu-img reads is the guest's to forge
/// (through a QEMU it broke out of): qemu-img therefore runs as the guest's
/// own QEMU user, never as root. That user may not open the file (it is
/// root's, mode 0600, and reaches QEMU as a descriptor), so for the run
/// the file is the guest's user's, and afterwards exactly as it was; the
/// path qemu-img opens is the descriptor hvd checked (/proc/self/fd/3), not
/// the name a link could be planted at.
public struct OfflineDisk: DiskSnapshotting {
    public let url: URL
    public let identity: GuestIdentity

    public init(url: URL, identity: GuestIdentity) {
        self.url = url
        self.identity = identity
    }

    public func create(_ tag: String) throws { try qemuImg(["snapshot", "-c", tag], what: "making snapshot \(tag) of \(url.path)") }
    public func delete(_ tag: String) throws { try qemuImg(["snapshot", "-d", tag], what: "deleting snapshot \(tag) of \(url.path)") }
    /// Puts the disk back as it was at the snapshot.
    public func apply(_ tag: String) throws { try qemuImg(["snapshot", "-a", tag], what: "reverting \(url.path) to snapshot \(tag)", timeout: 1800) }

    public func tags() throws -> [String] {
        let json = try qemuImg(["info", "--output=json"], what: "reading the snapshots of \(url.path)")
        return try Self.tags(fromInfo: json)
    }

    /// The snapshot names in `qemu-img info --output=json` (an unprivileged process's output: bounded, checked).
    static func tags(fromInfo json: String) throws -> [String] {
        guard json.utf8.count <= Spawn.outputCap,
              let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw HVError(.badDiskImage, "qemu-img gave no readable description of the disk")
        }
        let list = object["snapshots"] as? [[String: Any]] ?? []
        return list.prefix(4096).compactMap { $0["name"] as? String }
    }

    /// The disk as qemu-img opens it: the descriptor hvd checked, as qcow2 (never a probed format).
    static let imageOptions = "driver=qcow2,file.driver=file,file.filename=/proc/self/fd/3"

    /// qemu-img on the disk as the guest's user; returns its output.
    @discardableResult
    func qemuImg(_ args: [String], what: String, timeout: Double = 600) throws -> String {
        let fd = try DiskDescriptors.openChecked(url, flags: O_RDWR)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw HVError(.unsupported, "\(url.path) is not a disk image file (a block device?): hv snapshots qcow2 files only")
        }
        let lend = GuestIdentity.dropsPrivileges && st.st_uid != identity.uid
        if lend {
            guard fchown(fd, identity.uid, st.st_gid) == 0, fchmod(fd, 0o600) == 0 else {
                throw HVError.posix("lend \(url.path) to the guest's user for qemu-img", errno: errno)
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
        let out = try Spawn.runAs(identity, ["qemu-img"] + args + ["--image-opts", Self.imageOptions],
                                  keepFDs: [fd], timeout: timeout)
        guard out.status == 0, !out.timedOut else {
            let why = out.timedOut ? "did not finish within \(Int(timeout)) s"
                : out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(600).description
            throw HVError(.io, "\(what) failed: \(why)",
                          hint: "nothing of the guest was changed by hv beyond what qemu-img says; check the disk with: qemu-img check \(url.path)")
        }
        return out.stdout
    }
}
