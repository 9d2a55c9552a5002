import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// A guest's snapshots: its disk (a qcow2 internal snapshot, or for a raw
/// disk a copy), its UEFI variables and its TPM state, together, under one
/// name. The disk's part lives in the disk; the rest in
/// `<guest folder>/snapshots/<name>/` (root's, mode 0700: the guests'
/// shared folder never shows one guest's TPM state to another), with a
/// manifest written last, so a snapshot cut short by a crash has no
/// manifest and is not one.
///
/// A revert first takes an automatic snapshot of what it replaces
/// (`before-revert-…`), then marks itself under way: a start refuses a
/// guest whose revert was cut short until it is run again.
/// The caller (hvd's supervisor) runs one operation per guest at a time
/// and says whether the guest runs; a revert is only for a stopped guest.
public struct SnapshotStore {
    public let folder: GuestFolder
    /// The guest's own disk (nil: none, an RT guest booting from its image alone).
    public let disk: DiskImage?
    /// Room kept free beyond what a snapshot copies.
    public static let marginBytes: UInt64 = 64 << 20

    public init(folder: GuestFolder, disk: DiskImage?) {
        self.folder = folder
        self.disk = disk
    }

    public var root: URL { folder.url.appendingPathComponent("snapshots") }
    func place(_ name: String) -> URL { root.appendingPathComponent(name) }
    var revertMarker: URL { root.appendingPathComponent(".reverting") }
    static let nvramFile = "OVMF_VARS.fd", tpmFolder = "tpm", diskCopy = "disk.img", manifestFile = "snapshot.json"

    struct Manifest: Codable, Equatable {
        struct Disk: Codable, Equatable {
            var path: String
            var format: String
            /// "internal": a qcow2 snapshot in the disk; "copy": `disk.img` beside the manifest.
            var method: String
        }
        var name: String
        var createdAt: String
        var whileRunning: Bool
        var automatic: Bool
        var disk: Disk
        var nvram: Bool
        var tpm: Bool
    }

    struct Reverting: Codable {
        var target: String
        var kept: String
    }

    func manifestFile(_ name: String) -> RecordFile<Manifest> {
        RecordFile(place(name).appendingPathComponent(Self.manifestFile), what: "snapshot \(name) of \(folder.name)")
    }

    /// The snapshot a revert was cut short on (nil: none), for a start to refuse.
    public var interruptedRevert: String? {
        RecordFile<Reverting>(revertMarker, what: "the revert under way").value?.target
            ?? (FileManager.default.fileExists(atPath: revertMarker.path) ? "?" : nil)
    }

    // MARK: list

    func manifests() -> [Manifest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && SnapshotName.problem($0) == nil }
            .compactMap { manifestFile($0).value }
            .sorted { ($0.createdAt, $0.name) < ($1.createdAt, $1.name) }
    }

    /// `diskTags`: the disk's snapshot tags (nil: unknown).
    public func list(diskTags: [String]?) -> SnapshotList {
        let all = manifests()
        let infos = all.map { info($0, diskTags: diskTags) }
        let named = Set(all.filter { $0.disk.method == "internal" }.map(\.name))
        return SnapshotList(guest: folder.name, snapshots: infos, diskOnly: (diskTags ?? []).filter { !named.contains($0) })
    }

    func info(_ m: Manifest, diskTags: [String]?) -> SnapshotInfo {
        var contents = [m.disk.method == "internal" ? "disk (qcow2 internal snapshot)" : "disk (a copy of the raw image)"]
        if m.nvram { contents.append("UEFI variables") }
        if m.tpm { contents.append("TPM state") }
        var complete = true
        var note: String?
        if m.disk.method == "internal", let diskTags, !diskTags.contains(m.name) {
            complete = false
            note = "its disk snapshot is gone (deleted outside hv): it cannot be reverted to"
        } else if m.disk.method == "copy", !FileManager.default.fileExists(atPath: place(m.name).appendingPathComponent(Self.diskCopy).path) {
            complete = false
            note = "its copy of the disk is gone: it cannot be reverted to"
        } else if m.whileRunning {
            note = "taken while the guest ran: its disk as after a power cut; the guest boots afresh after a revert"
        }
        return SnapshotInfo(
            name: m.name, createdAt: m.createdAt, whileRunning: m.whileRunning, contents: contents,
            complete: complete, automatic: m.automatic, note: note)
    }

    // MARK: create

    /// The guest's disk as a snapshot can take it (refusals name why).
    func diskForSnapshot(running: Bool) throws -> (DiskImage, Manifest.Disk) {
        guard let disk else {
            throw HVError(
                .unsupported, "\(folder.name) has no disk of its own: there is nothing to snapshot",
                hint: "snapshots are for KVM guests and RT-Linux guests with their own root disk")
        }
        var st = stat()
        guard lstat(disk.url.path, &st) == 0 else {
            throw HVError(
                .notFound, "\(folder.name) has no disk yet (\(disk.url.path)): it is made at the first start",
                hint: "start the guest once, then take a snapshot")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw HVError(
                .unsupported,
                "the disk of \(folder.name) is \(st.st_mode & S_IFMT == S_IFBLK ? "a block device" : "not a regular file") (\(disk.url.path)): hv snapshots disk image files",
                hint: "snapshot a block device with its own tools (LVM: lvcreate --snapshot) while the guest is stopped")
        }
        if disk.format == .raw && running {
            throw HVError(
                .unsupported, "the disk of \(folder.name) is a raw image (\(disk.url.path)): it can be snapshotted only while the guest is stopped",
                hint: "stop the guest first, or convert the disk to qcow2 (qemu-img convert -O qcow2) and name the .qcow2 in the configuration")
        }
        return (disk, .init(path: disk.url.path, format: disk.format.rawValue, method: disk.format == .qcow2 ? "internal" : "copy"))
    }

    /// Takes snapshot `name`: `disk` makes the qcow2 part (QMP while the guest
    /// runs, qemu-img while stopped). Nothing is left of a snapshot that fails.
    @discardableResult
    public func create(_ name: String, running: Bool, automatic: Bool = false, disk snapper: DiskSnapshotting) throws -> SnapshotInfo {
        try SnapshotName.check(name)
        let (image, diskPart) = try diskForSnapshot(running: running)
        try ensureRoot()
        if FileManager.default.fileExists(atPath: place(name).path) {
            throw HVError(
                .conflict, "\(folder.name) already has a snapshot named \(name)",
                hint: "choose another name, or delete the old one first: hv guest snapshot \(folder.name) delete \(name)")
        }
        let inDisk = diskPart.method == "internal"
        if inDisk, try snapper.tags().contains(name) {
            throw HVError(
                .conflict,
                "the disk of \(folder.name) already holds a snapshot named \(name) that no snapshot of hv's describes (made with qemu-img, or cut short)",
                hint: "choose another name, or remove that disk snapshot: hv guest snapshot \(folder.name) delete \(name)")
        }
        let nvram = FileManager.default.fileExists(atPath: folder.nvram.path)
        let tpm = FileManager.default.fileExists(atPath: folder.tpmDir.path)
        try checkRoom(
            copying: (inDisk ? 0 : GuestFileCopy.allocatedBytes(image.url)) + (nvram ? GuestFileCopy.allocatedBytes(folder.nvram) : 0) + 1 << 20,
            diskInternal: inDisk ? image.url : nil)

        let work = root.appendingPathComponent(".\(name).creating")
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var tagged = false
        do {
            if nvram { try GuestFileCopy.file(folder.nvram, to: work.appendingPathComponent(Self.nvramFile)) }
            if tpm { try GuestFileCopy.directory(folder.tpmDir, to: work.appendingPathComponent(Self.tpmFolder)) }
            if inDisk {
                try snapper.create(name)
                tagged = true
            } else {
                try GuestFileCopy.file(image.url, to: work.appendingPathComponent(Self.diskCopy))
            }
            let manifest = Manifest(
                name: name, createdAt: Timestamp.iso8601Milliseconds(), whileRunning: running, automatic: automatic,
                disk: diskPart, nvram: nvram, tpm: tpm)
            try RecordFile<Manifest>(work.appendingPathComponent(Self.manifestFile), what: "snapshot \(name)").write(manifest)
            guard rename(work.path, place(name).path) == 0 else { throw HVError.posix("cannot put snapshot \(name) in place", errno: errno) }
            syncDirectory(root)
            return info(manifest, diskTags: nil)
        } catch {
            if tagged { try? snapper.delete(name) }
            try? FileManager.default.removeItem(at: work)
            throw error
        }
    }

    /// The snapshots' folder: root's, 0700, a real folder (not a link).
    func ensureRoot() throws {
        var st = stat()
        if lstat(root.path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw HVError(.conflict, "\(root.path) is not a folder", hint: "move it away; hv keeps the guest's snapshots there")
            }
            return
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    /// Enough room for the copies (and for the qcow2 to record a snapshot), or a clear refusal.
    func checkRoom(copying bytes: UInt64, diskInternal: URL?) throws {
        let places = [(root, bytes + Self.marginBytes)] + (diskInternal.map { [($0.deletingLastPathComponent(), Self.marginBytes)] } ?? [])
        for (dir, needed) in places {
            guard let free = FreeSpace.bytes(at: dir.path), free < needed else { continue }
            throw HVError(
                .insufficientResources,
                "not enough room for the snapshot on the file system of \(dir.path): \(free >> 20) MiB free, \(needed >> 20) MiB needed",
                hint: "free space there (old snapshots: hv guest snapshot \(folder.name) delete NAME; old backups; console logs); nothing was changed")
        }
    }

    func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    func manifest(_ name: String) throws -> Manifest {
        try SnapshotName.check(name)
        guard let m = manifestFile(name).value else {
            let known = manifests().map(\.name)
            throw HVError(
                .notFound, "\(folder.name) has no snapshot named \(name)",
                hint: known.isEmpty ? "take one with: hv guest snapshot \(folder.name) create" : "its snapshots: " + known.joined(separator: ", "))
        }
        return m
    }
}
