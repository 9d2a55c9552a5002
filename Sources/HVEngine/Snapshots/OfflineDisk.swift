import Foundation
import HVCore
import HVHost

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

/// A stopped guest's qcow2 disk, changed by qemu-img as the guest's own
/// QEMU user (GuestDiskTool: the guest's qcow2 metadata is never parsed by root).
public struct OfflineDisk: DiskSnapshotting {
    public let url: URL
    public let identity: GuestIdentity

    public init(url: URL, identity: GuestIdentity) {
        self.url = url
        self.identity = identity
    }

    var tool: GuestDiskTool { GuestDiskTool(url: url, format: .qcow2, identity: identity) }

    public func create(_ tag: String) throws { try qemuImg(["snapshot", "-c", tag], what: "making snapshot \(tag) of \(url.path)") }
    public func delete(_ tag: String) throws { try qemuImg(["snapshot", "-d", tag], what: "deleting snapshot \(tag) of \(url.path)") }
    /// Puts the disk back as it was at the snapshot.
    public func apply(_ tag: String) throws { try qemuImg(["snapshot", "-a", tag], what: "reverting \(url.path) to snapshot \(tag)", timeout: 1800) }

    public func tags() throws -> [String] {
        try Self.tags(fromInfo: try qemuImg(["info", "--output=json"], what: "reading the snapshots of \(url.path)"))
    }

    /// The snapshot names in `qemu-img info --output=json` (an unprivileged process's output: bounded, checked).
    static func tags(fromInfo json: String) throws -> [String] {
        guard json.utf8.count <= Spawn.outputCap,
            let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        else {
            throw HVError(.badDiskImage, "qemu-img gave no readable description of the disk")
        }
        let list = object["snapshots"] as? [[String: Any]] ?? []
        return list.prefix(4096).compactMap { $0["name"] as? String }
    }

    @discardableResult
    func qemuImg(_ args: [String], what: String, timeout: Double = 600) throws -> String {
        try tool.check(["qemu-img"] + args + ["--image-opts", tool.imageOptions], what: what, timeout: timeout)
    }
}
