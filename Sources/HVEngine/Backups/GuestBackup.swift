import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// `hv guest backup`: one self-contained archive of a guest, taken while it
/// runs or while it is stopped: its disk (as qcow2, read by qemu-img as the
/// guest's user: from a snapshot QEMU made for the backup while it runs, so
/// the disk is one moment's), the files of its folder (its configuration,
/// scripts, UEFI variables and TPM state), its hv.config entry and a
/// manifest with every file's SHA-256. The archive is a plain tar (GNU
/// format, `tar -tvf` lists it), written under a temporary name and renamed
/// when whole.
public struct GuestBackup {
    public let folder: GuestFolder
    public let layout: HostLayout
    public let disk: DiskImage?
    /// Whose qemu-img reads the disk (the guest's QEMU user; nil: hvd's own, in tests).
    public let identity: GuestIdentity?
    public let name: String
    public let kind: GuestKind

    public init(folder: GuestFolder, layout: HostLayout, disk: DiskImage?, identity: GuestIdentity?, name: String, kind: GuestKind) {
        self.folder = folder
        self.layout = layout
        self.disk = disk
        self.identity = identity
        self.name = name
        self.kind = kind
    }

    /// Where the disk's content is read from: the image itself (stopped) or a
    /// snapshot QEMU made for the backup (running; read while QEMU writes on).
    public enum DiskSource: Sendable { case image, snapshot(String) }

    /// Progress for the user: the phase and the bytes written so far.
    public typealias Progress = @Sendable (_ phase: String, _ bytes: UInt64) -> Void

    /// Writes the archive into `dir`; returns it, its size and its manifest.
    public func write(
        into dir: URL, source: DiskSource, hvConfigEntry: [[String]],
        progress: @escaping Progress = { _, _ in }
    ) throws -> (archive: URL, bytes: UInt64, manifest: BackupManifest) {
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let stamp = Timestamp.compact()
        let archive = dir.appendingPathComponent("\(folder.name)-\(stamp).hvbackup.tar")
        guard !fm.fileExists(atPath: archive.path) else {
            throw HVError(.conflict, "\(archive.path) exists already", hint: "wait a second and take the backup again")
        }
        let staging = layout.backupDir.appendingPathComponent(".staging-\(folder.name)-\(stamp)")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? fm.removeItem(at: staging) }
        let part = dir.appendingPathComponent(".\(archive.lastPathComponent).part")
        defer { unlink(part.path) }
        try checkRoom(staging: staging, archiveDir: dir)

        progress("the guest's files", 0)
        var leftOut = ["the exchange folder (exchange.img): it is the guest's scratch space, shared with the host"]
        var copied = try copyFolder(into: staging.appendingPathComponent(BackupManifest.folderPrefix), leftOut: &leftOut)
        // The guest's pinned SSH host key (public): `hv guest ssh` trusts the restored guest as it did this one.
        let hostKey = layout.guestHostKey(folder.name)
        if FileManager.default.fileExists(atPath: hostKey.path) {
            try FileManager.default.createDirectory(
                at: staging.appendingPathComponent("keys"), withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try GuestFileCopy.file(hostKey, to: staging.appendingPathComponent(BackupManifest.knownHostsFile))
            copied.append(BackupManifest.knownHostsFile)
        }
        var diskPart: BackupManifest.Disk?
        if let disk {
            progress("the disk", 0)
            diskPart = try exportDisk(disk, source: source, to: staging.appendingPathComponent(BackupManifest.diskFile), progress: progress)
        }
        progress("checksums", 0)
        let paths = copied + (diskPart == nil ? [] : [BackupManifest.diskFile])
        let files = try Self.checksums(paths, in: staging) { path in
            // The permission bits the file has in the guest folder (the disk's are hv's to choose).
            guard path.hasPrefix(BackupManifest.folderPrefix + "/") else { return nil }
            var st = stat()
            let original = folder.url.appendingPathComponent(String(path.dropFirst(BackupManifest.folderPrefix.count + 1)))
            return lstat(original.path, &st) == 0 ? UInt32(st.st_mode & 0o7777) : nil
        }
        let manifest = BackupManifest(
            format: BackupManifest.currentFormat, hv: BuildInfo.description, createdAt: Timestamp.iso8601(),
            folder: folder.name, name: name, kind: kind.rawValue, whileRunning: { if case .snapshot = source { true } else { false } }(),
            hvConfigEntry: hvConfigEntry, disk: diskPart, files: files, leftOut: leftOut)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(manifest), to: staging.appendingPathComponent(BackupManifest.fileName), mode: 0o600)

        progress("the archive", 0)
        // The manifest first: a restore checks it before anything else.
        let members =
            [BackupManifest.fileName, BackupManifest.folderPrefix] + (diskPart == nil ? [] : [BackupManifest.diskFile])
            + (copied.contains(BackupManifest.knownHostsFile) ? ["keys"] : [])
        let tar = try Command.run(
            [
                "tar", "--format=gnu", "--numeric-owner", "--owner=0", "--group=0", "--sort=name",
                "-cf", part.path, "-C", staging.path,
            ] + members, timeout: 24 * 3600)
        guard tar.status == 0 else {
            let full = tar.stderr.contains("No space left")
            throw full ? HVError.noRoom(for: archive) : HVError(.io, "writing \(archive.path) failed: \(tar.stderr.suffix(400))")
        }
        // Root's alone whatever the umask: it holds the guest's disk, TPM state and variables.
        chmod(part.path, 0o600)
        guard rename(part.path, archive.path) == 0 else { throw HVError.posix("cannot name the backup \(archive.path)", errno: errno) }
        var st = stat()
        let bytes = stat(archive.path, &st) == 0 ? UInt64(st.st_size) : 0
        return (archive, bytes, manifest)
    }

    /// Room for the staging copy and the archive, each about the guest's bytes:
    /// twice that where both lie on one file system.
    func checkRoom(staging: URL, archiveDir: URL) throws {
        let guestBytes = (disk.map { GuestFileCopy.allocatedBytes($0.url) } ?? 0) + Self.folderBytes(folder.url)
        let stagingDir = staging.deletingLastPathComponent()
        let shared = FreeSpace.device(of: stagingDir.path).map { $0 == FreeSpace.device(of: archiveDir.path) } ?? false
        let places = shared ? [(archiveDir, 2 * guestBytes)] : [(stagingDir, guestBytes), (archiveDir, guestBytes)]
        for (place, needed) in places {
            guard let free = FreeSpace.bytes(at: place.path) else { continue }
            let want = needed + SnapshotStore.marginBytes
            if free < want {
                throw HVError(
                    .insufficientResources,
                    "not enough room for the backup of \(folder.name) on the file system of \(place.path): \(free >> 20) MiB free, about \(want >> 20) MiB needed",
                    hint: "free space there, or write the backup elsewhere (hv guest backup \(folder.name) --to DIR); nothing was changed")
            }
        }
    }

    static func folderBytes(_ url: URL) -> UInt64 {
        var total: UInt64 = 0
        let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil, options: [])
        while let u = walker?.nextObject() as? URL { total += GuestFileCopy.allocatedBytes(u) }
        return total
    }
}
