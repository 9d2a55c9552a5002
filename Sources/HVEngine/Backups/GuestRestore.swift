import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// `hv guest restore`: a guest back from its backup, on this host or
/// another, under its own folder name or a new one. Nothing is overwritten:
/// a folder or an hv.config entry of that name is refused. The archive is
/// read strictly (TarReader); its manifest is checked first, then every
/// member is unpacked into a staging folder and its SHA-256 compared, and
/// only then is anything put in place: a damaged or truncated archive is
/// refused with the file named, and nothing changes.
public struct GuestRestore {
    public let archive: URL
    public let layout: HostLayout
    /// The folder name to restore as (nil: the backup's own).
    public let target: String?

    public init(archive: URL, layout: HostLayout, as target: String?) {
        self.archive = archive
        self.layout = layout
        self.target = target
    }

    public static let maxManifestBytes: UInt64 = 4 << 20

    /// Opens the archive: a regular file of root's that no one else may write
    /// (what it holds becomes a guest whose scripts hv runs as root).
    func openArchive() throws -> Int32 {
        let fd = open(archive.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw HVError.posix("cannot open the backup \(archive.path)", errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw HVError(.invalidArgument, "\(archive.path) is not a regular file", hint: "name the .hvbackup.tar file a backup wrote")
        }
        guard !GuestIdentity.dropsPrivileges || (st.st_uid == 0 && st.st_mode & 0o022 == 0) else {
            close(fd)
            throw HVError(
                .invalidArgument,
                "the backup \(archive.path) is not root's alone (owner \(st.st_uid), mode \(String(st.st_mode & 0o777, radix: 8))): what it holds would become a guest whose scripts hv runs as root",
                hint: "check where it came from, then: chown root:root '\(archive.path)' && chmod 600 '\(archive.path)'; nothing was changed")
        }
        return fd
    }

    /// The manifest, read and checked (the archive's first member).
    public func manifest() throws -> BackupManifest {
        let fd = try openArchive()
        defer { close(fd) }
        var reader = TarReader(fd: fd, what: archive.path)
        return try readManifest(&reader)
    }

    func readManifest(_ reader: inout TarReader) throws -> BackupManifest {
        guard let first = try reader.next(), first.name == BackupManifest.fileName, first.kind == .file else {
            throw reader.fail("its first member is not \(BackupManifest.fileName)")
        }
        guard first.size <= Self.maxManifestBytes else { throw reader.fail("its manifest is \(first.size) bytes, more than a manifest can be") }
        // A small member: through a temporary file of root's.
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("hv-manifest-\(UUID().uuidString)")
        let out = open(tmp.path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw HVError.posix("cannot create \(tmp.path)", errno: errno) }
        defer {
            close(out)
            unlink(tmp.path)
        }
        try reader.content(first, to: out)
        let data = try Data(contentsOf: tmp)
        guard let m = try? JSONDecoder().decode(BackupManifest.self, from: data) else {
            throw reader.fail("its manifest cannot be read")
        }
        guard m.format <= BackupManifest.currentFormat else {
            throw HVError(
                .unsupported, "\(archive.path) was written by a newer hv (backup format \(m.format); this hv reads up to \(BackupManifest.currentFormat))",
                hint: "restore it with that hv version or newer; nothing was changed")
        }
        guard HypervisorConfig.isValidFolderName(m.folder), m.files.count <= 100_000,
            m.files.allSatisfy({ TarReader.nameProblem($0.path) == nil && $0.sha256.count == 64 })
        else {
            throw reader.fail("its manifest names files hv would not write")
        }
        return m
    }

    /// What a restore would create, for the question the user is asked; refuses a name taken.
    public func plan() throws -> (folder: String, steps: [String], manifest: BackupManifest) {
        let m = try manifest()
        let folder = target ?? m.folder
        guard HypervisorConfig.isValidFolderName(folder) else {
            throw HVError(.invalidArgument, "\"\(folder)\" is not a folder name: letters, digits, - and _ only")
        }
        let dir = layout.guest(folder).url
        if FileManager.default.fileExists(atPath: dir.path) {
            throw HVError(
                .conflict, "a guest folder \(dir.path) exists already: a restore overwrites nothing",
                hint: "restore under another name: hv guest restore '\(archive.path)' --as NEWNAME; nothing was changed")
        }
        let hv = try RegistryFile.readIfPresent(layout.hvConfig)
        if let hv, hv.sections.contains(where: { $0.lowercased() == "guests\\\(folder.lowercased())" }) {
            throw HVError(
                .conflict, "hv.config has an entry for \(folder) already: a restore overwrites nothing",
                hint: "restore under another name (--as NEWNAME), or remove that entry first; nothing was changed")
        }
        var steps = ["the guest folder \(dir.path) with its \(m.files.filter { $0.path.hasPrefix(BackupManifest.folderPrefix + "/") }.count) files"]
        if let disk = m.disk {
            steps.append(
                "its disk \(dir.appendingPathComponent(BackupManifest.diskFile).path) (\(disk.virtualBytes >= 1 << 30 ? "\(disk.virtualBytes >> 30) GiB" : "\(disk.virtualBytes >> 20) MiB"), qcow2; it was \(disk.originalPath))"
            )
        }
        steps.append("its entry [Guests\\\(folder)] in \(layout.hvConfig.path) (Id \(newID(m, hv: hv)))")
        return (folder, steps, m)
    }

    /// The backup's Id when it is free here, else the next free one.
    func newID(_ m: BackupManifest, hv: RegistryDocument?) -> Int {
        let taken = Set((hv.flatMap { try? HypervisorConfig($0) }?.guests ?? []).map(\.id))
        if let old = m.hvConfigEntry.first(where: { $0.first?.lowercased() == "id" }).flatMap({ $0.last }).flatMap(Int.init),
            old > 0, !taken.contains(old)
        {
            return old
        }
        return (taken.max() ?? 0) + 1
    }
}
