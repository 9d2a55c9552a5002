import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

extension GuestBackup {
    /// Names in the archive stay under tar's 100 bytes (no long-name
    /// extension, which a restore refuses); a longer one is left out, and said.
    static let maxMemberName = 99

    /// Copies the guest folder's files (not its snapshots, exchange folder,
    /// console logs, the disk itself or hv's temporary files) into `into`;
    /// returns their archive paths. The TPM folder is the guest's user's: it
    /// is copied flat, never through a link planted there (GuestFileCopy).
    func copyFolder(into: URL, leftOut: inout [String]) throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(at: into, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let skipped: Set<String> = ["snapshots", "exchange", "exchange.img", "console.log", "console.log.1"]
        let diskPath = disk?.url.standardizedFileURL.path
        var paths: [String] = []
        func archivePath(_ rel: String) -> String { BackupManifest.folderPrefix + "/" + rel }
        func note(_ rel: String, _ why: String) { leftOut.append("\(rel): \(why)") }

        for name in try fm.contentsOfDirectory(atPath: folder.url.path).sorted() where !skipped.contains(name) && !Self.isTemporary(name) {
            let src = folder.url.appendingPathComponent(name)
            if src.standardizedFileURL.path == diskPath { continue }
            var st = stat()
            guard lstat(src.path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                guard archivePath(name).utf8.count <= Self.maxMemberName else {
                    note(name, "its name is too long for the archive")
                    continue
                }
                try GuestFileCopy.file(src, to: into.appendingPathComponent(name))
                paths.append(archivePath(name))
            case S_IFDIR where name == "tpm":
                let copied = try GuestFileCopy.directory(src, to: into.appendingPathComponent(name))
                paths += copied.map { archivePath("tpm/\($0)") }
            case S_IFDIR:
                paths += try copyTree(src, rel: name, into: into, leftOut: &leftOut)
            default:
                note(name, "not a regular file or folder")
            }
        }
        return paths
    }

    /// A folder of the user's (root's) below the guest folder, its regular files only.
    private func copyTree(_ src: URL, rel: String, into: URL, leftOut: inout [String]) throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(at: into.appendingPathComponent(rel), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var paths: [String] = []
        for name in try fm.contentsOfDirectory(atPath: src.path).sorted() where !Self.isTemporary(name) {
            let child = "\(rel)/\(name)", from = src.appendingPathComponent(name)
            var st = stat()
            guard lstat(from.path, &st) == 0 else { continue }
            let member = BackupManifest.folderPrefix + "/" + child
            if st.st_mode & S_IFMT == S_IFDIR && child.split(separator: "/").count < 12 {
                paths += try copyTree(from, rel: child, into: into, leftOut: &leftOut)
            } else if st.st_mode & S_IFMT == S_IFREG && member.utf8.count <= Self.maxMemberName {
                try GuestFileCopy.file(from, to: into.appendingPathComponent(child))
                paths.append(member)
            } else {
                leftOut.append("\(child): \(st.st_mode & S_IFMT == S_IFREG ? "its name is too long for the archive" : "not a regular file or folder")")
            }
        }
        return paths
    }

    /// hv's own temporary names (an atomic write's, a snapshot's, a revert's).
    static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".")
            && (name.contains(".tmp-") || name.hasSuffix(".creating") || name.hasSuffix(".reverting")
                || name.hasSuffix(".replaced") || name.hasSuffix(".deleting"))
    }

    /// The disk as qcow2 in `to`, converted by qemu-img as the guest's user:
    /// the image is lent to that user for the run (GuestDiskTool), and so is
    /// the target hvd made, which is root's again afterwards.
    func exportDisk(_ disk: DiskImage, source: DiskSource, to target: URL, progress: @escaping Progress) throws -> BackupManifest.Disk {
        let out = open(target.path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw HVError.posix("cannot create \(target.path)", errno: errno) }
        defer { close(out) }
        let uid = GuestIdentity.dropsPrivileges ? identity?.uid : nil
        if let uid { _ = fchown(out, uid, 0) }
        defer {
            if uid != nil {
                _ = fchown(out, 0, 0)
                _ = fchmod(out, 0o600)
            }
        }
        let tool = GuestDiskTool(url: disk.url, format: disk.format, identity: identity)
        var argv = ["qemu-img", "convert", "-O", "qcow2"]
        if case .snapshot(let tag) = source {
            // QEMU writes on while the snapshot is read: share its lock; the snapshot's clusters do not change.
            argv += ["-U", "-l", "snapshot.name=\(tag)"]
        }
        argv += ["--image-opts", tool.imageOptions, "/proc/self/fd/4"]
        // The bytes written so far, for the user, while qemu-img works.
        let watching = Monitor(true)
        let watcher = Thread {
            while watching.withLock({ $0 }) {
                progress("the disk", GuestFileCopy.allocatedBytes(target))
                usleep(500_000)
            }
        }
        watcher.start()
        defer { watching.withLock { $0 = false } }
        do {
            try tool.check(argv, alsoPass: [out], what: "copying the disk \(disk.url.path) into the backup", timeout: 24 * 3600)
        } catch let e as HVError where e.message.contains("No space left") {
            throw HVError.noRoom(for: target)
        }
        var shared: [String] = []
        if case .snapshot = source { shared = ["-U"] }
        let info = try tool.check(
            ["qemu-img", "info", "--output=json"] + shared + ["--image-opts", tool.imageOptions],
            what: "reading the size of \(disk.url.path)", timeout: 60)
        let virtual = ((try? JSONSerialization.jsonObject(with: Data(info.utf8))) as? [String: Any])?["virtual-size"] as? NSNumber
        return BackupManifest.Disk(originalPath: disk.url.path, originalFormat: disk.format.rawValue, virtualBytes: virtual?.uint64Value ?? 0)
    }

    /// Each staged file's size and SHA-256 (coreutils' sha256sum over root's own copies).
    static func checksums(_ paths: [String], in staging: URL, modesFrom source: (String) -> UInt32? = { _ in nil }) throws -> [BackupManifest.File] {
        var files: [BackupManifest.File] = []
        for chunk in stride(from: 0, to: paths.count, by: 64).map({ Array(paths[$0..<min($0 + 64, paths.count)]) }) {
            let out = try Command.run(["sha256sum", "--"] + chunk, timeout: 24 * 3600, cwd: staging)
            guard out.status == 0 else { throw HVError(.io, "sha256sum failed: \(out.stderr.suffix(300))") }
            let sums = Self.parseSums(out.stdout)
            for path in chunk {
                guard let sum = sums[path] else { throw HVError(.internal, "no checksum for \(path)") }
                var st = stat()
                _ = lstat(staging.appendingPathComponent(path).path, &st)
                files.append(.init(path: path, bytes: UInt64(st.st_size), sha256: sum, mode: source(path)))
            }
        }
        return files
    }

    /// "HASH  PATH" lines of sha256sum (names with a backslash or newline are escaped by it: ours have none).
    static func parseSums(_ text: String) -> [String: String] {
        var sums: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit) else { continue }
            sums[String(parts[1].dropFirst(parts[1].hasPrefix(" ") || parts[1].hasPrefix("*") ? 1 : 0))] = String(parts[0])
        }
        return sums
    }
}
