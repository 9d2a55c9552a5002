import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

extension GuestRestore {
    /// Restores the guest (after `plan()` was shown and agreed to); returns its folder and what was done.
    public func perform() throws -> (folder: String, message: String) {
        let (folder, steps, m) = try plan()
        let fm = FileManager.default
        let staging = layout.backupDir.appendingPathComponent(".restore-\(folder)-\(Timestamp.compact())")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? fm.removeItem(at: staging) }
        try unpack(m, into: staging)

        // Everything is whole: into place, then the hv.config entry (undone if that entry does not validate).
        let dir = layout.guest(folder).url
        try fm.createDirectory(at: layout.guestsDir, withIntermediateDirectories: true)
        try fm.moveItem(at: staging.appendingPathComponent(BackupManifest.folderPrefix), to: dir)
        do {
            chmod(dir.path, 0o755)
            for f in m.files where f.path.hasPrefix(BackupManifest.folderPrefix + "/") {
                let url = dir.appendingPathComponent(String(f.path.dropFirst(BackupManifest.folderPrefix.count + 1)))
                // The guest's own state is its QEMU user's again at its start; nothing here gets more than 0755.
                chmod(url.path, mode_t(f.mode ?? 0o600) & 0o755)
            }
            if m.disk != nil {
                let disk = dir.appendingPathComponent(BackupManifest.diskFile)
                try fm.moveItem(at: staging.appendingPathComponent(BackupManifest.diskFile), to: disk)
                chmod(disk.path, 0o600)
                try pointAtTheDisk(in: dir)
            }
            if let target, target != m.folder { try rename(in: dir, to: target) }
            try pinHostKey(m, from: staging, folder: folder)
            try addEntry(m, folder: folder)
        } catch {
            try? fm.removeItem(at: dir)
            throw error
        }
        return (folder, "restored \(m.name) from \(archive.lastPathComponent) (taken \(m.createdAt)): " + steps.joined(separator: "; "))
    }

    /// Every member into `staging`, each checked against the manifest (listed, its size, once), then every checksum.
    func unpack(_ m: BackupManifest, into staging: URL) throws {
        let fd = try openArchive()
        defer { close(fd) }
        var reader = TarReader(fd: fd, what: archive.path)
        _ = try readManifest(&reader)
        let listed = Dictionary(m.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let folders = Set(
            m.files.flatMap { f in
                let parts = f.path.split(separator: "/")
                return (1..<max(parts.count, 1)).map { parts.prefix($0).joined(separator: "/") }
            })
        var seen = Set<String>()
        while let e = try reader.next() {
            let place = staging.appendingPathComponent(e.name)
            switch e.kind {
            case .folder:
                guard folders.contains(e.name) || e.name == BackupManifest.folderPrefix else {
                    throw reader.fail("it holds a folder \"\(e.name)\" its manifest does not list")
                }
                try FileManager.default.createDirectory(at: place, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            case .file:
                guard let f = listed[e.name], f.bytes == e.size, !seen.contains(e.name) else {
                    throw reader.fail(
                        listed[e.name] == nil
                            ? "it holds \"\(e.name)\", which its manifest does not list"
                            : seen.contains(e.name)
                                ? "it holds \"\(e.name)\" twice" : "\"\(e.name)\" is \(e.size) bytes, its manifest says \(listed[e.name]?.bytes ?? 0)")
                }
                seen.insert(e.name)
                try FileManager.default.createDirectory(
                    at: place.deletingLastPathComponent(), withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
                let out = open(place.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard out >= 0 else {
                    if errno == ENOSPC { throw HVError.noRoom(for: place) }
                    throw HVError.posix("cannot write \(place.path)", errno: errno)
                }
                defer { close(out) }
                do { try reader.content(e, to: out) } catch let error as HVError where error.message.contains("No space left") {
                    throw HVError.noRoom(for: place)
                }
                guard fsync(out) == 0 else { throw HVError.posix("cannot write \(place.path)", errno: errno) }
            }
        }
        if let missing = m.files.first(where: { !seen.contains($0.path) }) {
            throw reader.fail("it lacks \"\(missing.path)\", which its manifest lists (a truncated copy?)")
        }
        let sums = try GuestBackup.checksums(m.files.map(\.path), in: staging)
        for (f, sum) in zip(m.files, sums) where f.sha256 != sum.sha256 {
            throw reader.fail("\"\(f.path)\" is damaged: its SHA-256 is not the one its manifest holds")
        }
    }

    /// The restored disk is the guest folder's own: a disk path of the old host is taken out of its configuration.
    func pointAtTheDisk(in dir: URL) throws {
        for name in ["guest.config", "usr.config"] {
            let url = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            var doc = try RegistryFile.read(url)
            guard doc.value("Guest\\Disk", "Image") != nil else { continue }
            doc.set("Guest\\Disk", "Image", "")
            try RegistryFile.write(doc, to: url)
        }
    }

    /// The guest's SSH host key, pinned again under its (new) folder name; one pinned already stays.
    func pinHostKey(_ m: BackupManifest, from staging: URL, folder: String) throws {
        guard m.file(BackupManifest.knownHostsFile) != nil,
            let text = try? String(contentsOf: staging.appendingPathComponent(BackupManifest.knownHostsFile), encoding: .utf8)
        else { return }
        let target = layout.guestHostKey(folder)
        guard !FileManager.default.fileExists(atPath: target.path) else { return }
        let lines = text.split(separator: "\n").map { line in
            line.hasPrefix("hv-\(m.folder) ") ? "hv-\(folder) " + line.dropFirst("hv-\(m.folder) ".count) : Substring(line)
        }
        try GuestSSH.ensureKeysDir(layout)
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: target, mode: 0o600)
    }

    /// A guest restored under a new folder name takes it as its name too (two guests of one name would confuse).
    func rename(in dir: URL, to name: String) throws {
        let url = dir.appendingPathComponent("guest.config")
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        var doc = try RegistryFile.read(url)
        doc.set("Guest", "Name", name)
        try RegistryFile.write(doc, to: url)
    }

    /// The guest's `[Guests\<folder>]` entry, with an Id free here.
    func addEntry(_ m: BackupManifest, folder: String) throws {
        let existing = try RegistryFile.readIfPresent(layout.hvConfig)
        var hv = existing ?? HypervisorConfig(project: "manual", guests: []).document()
        hv.fileName = layout.hvConfig.path
        let section = "Guests\\\(folder)"
        let id = newID(m, hv: existing)
        for pair in m.hvConfigEntry where pair.count == 2 {
            switch pair[0].lowercased() {
            case "id": hv.set(section, "Id", String(id))
            case "name": hv.set(section, "Name", target.map { $0 != m.folder ? $0 : pair[1] } ?? pair[1])
            default: hv.set(section, pair[0], pair[1])
            }
        }
        if hv.value(section, "Id") == nil { hv.set(section, "Id", String(id)) }
        _ = try HypervisorConfig(hv)
        try RegistryFile.write(hv, to: layout.hvConfig)
    }
}
