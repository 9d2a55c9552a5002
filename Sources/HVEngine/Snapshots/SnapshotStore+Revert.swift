import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

extension SnapshotStore {
    /// What a revert to `name` replaces, for the question the user is asked.
    public func revertPlan(_ name: String) throws -> String {
        let m = try manifest(name)
        var parts = ["the disk \(m.disk.path)"]
        if m.nvram || FileManager.default.fileExists(atPath: folder.nvram.path) { parts.append("the UEFI variables") }
        if m.tpm || FileManager.default.fileExists(atPath: folder.tpmDir.path) { parts.append("the TPM state") }
        return "reverting \(folder.name) to snapshot \(name) (\(m.createdAt)) puts back " + parts.joined(separator: ", ")
            + " as they were then; what they hold now is kept first as an automatic snapshot"
    }

    /// Puts the stopped guest back as snapshot `name` holds it, after keeping
    /// what it replaces as an automatic snapshot; returns that one's name.
    public func revert(_ name: String, disk offline: OfflineDisk) throws -> String {
        let m = try manifest(name)
        let (image, current) = try diskForSnapshot(running: false)
        guard current.path == m.disk.path, current.method == m.disk.method else {
            throw HVError(
                .conflict,
                "snapshot \(name) holds the disk \(m.disk.path) (\(m.disk.format)); \(folder.name)'s disk is now \(current.path) (\(current.format))",
                hint: "put the configuration's disk back to \(m.disk.path) to revert to it; nothing was changed")
        }
        if m.disk.method == "internal" {
            guard try offline.tags().contains(name) else {
                throw HVError(
                    .notFound, "the disk snapshot of \(name) is gone from \(m.disk.path) (deleted outside hv): it cannot be reverted to",
                    hint: "delete the rest of it: hv guest snapshot \(folder.name) delete \(name); nothing was changed")
            }
        } else if !FileManager.default.fileExists(atPath: place(name).appendingPathComponent(Self.diskCopy).path) {
            throw HVError(.notFound, "snapshot \(name) lost its copy of the disk: it cannot be reverted to", hint: "nothing was changed")
        }
        let kept = uniqueName(SnapshotName.fromTime(prefix: SnapshotName.beforeRevertPrefix))
        try create(kept, running: false, automatic: true, disk: offline)
        let marker = RecordFile<Reverting>(revertMarker, what: "the revert under way")
        try marker.write(Reverting(target: name, kept: kept))
        if m.disk.method == "internal" {
            try offline.apply(name)
        } else {
            try replaceFile(image.url, with: place(name).appendingPathComponent(Self.diskCopy))
        }
        if m.nvram {
            try replaceFile(folder.nvram, with: place(name).appendingPathComponent(Self.nvramFile))
        } else {
            unlink(folder.nvram.path)
        }
        try replaceTPM(from: m.tpm ? place(name).appendingPathComponent(Self.tpmFolder) : nil)
        marker.remove()
        syncDirectory(root)
        return kept
    }

    /// `name`, or `name-2`, `name-3`, … when taken (two reverts in one second).
    public func uniqueName(_ name: String) -> String {
        var candidate = name, n = 2
        while FileManager.default.fileExists(atPath: place(candidate).path) {
            candidate = "\(name)-\(n)"
            n += 1
        }
        return candidate
    }

    /// `target` becomes a copy of `source` in one rename, keeping target's owner and mode.
    func replaceFile(_ target: URL, with source: URL) throws {
        var st = stat()
        let had = lstat(target.path, &st) == 0
        let work = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).reverting")
        unlink(work.path)
        try GuestFileCopy.file(source, to: work)
        if had {
            _ = chown(work.path, st.st_uid, st.st_gid)
            _ = chmod(work.path, st.st_mode & 0o7777)
        }
        guard rename(work.path, target.path) == 0 else {
            let e = errno
            unlink(work.path)
            throw HVError.posix("cannot put back \(target.path)", errno: e)
        }
    }

    /// The TPM state folder becomes the snapshot's (nil: the guest had none then).
    func replaceTPM(from source: URL?) throws {
        let fm = FileManager.default
        let parent = folder.tpmDir.deletingLastPathComponent()
        let incoming = parent.appendingPathComponent(".tpm.reverting"), outgoing = parent.appendingPathComponent(".tpm.replaced")
        try? fm.removeItem(at: incoming)
        try? fm.removeItem(at: outgoing)
        if let source { try GuestFileCopy.directory(source, to: incoming) }
        if fm.fileExists(atPath: folder.tpmDir.path) {
            guard rename(folder.tpmDir.path, outgoing.path) == 0 else { throw HVError.posix("cannot move \(folder.tpmDir.path) aside", errno: errno) }
        }
        if source != nil {
            guard rename(incoming.path, folder.tpmDir.path) == 0 else { throw HVError.posix("cannot put back \(folder.tpmDir.path)", errno: errno) }
        }
        // The state replaced is in the automatic snapshot.
        try? fm.removeItem(at: outgoing)
    }

    /// Deletes snapshot `name` (or a disk snapshot no snapshot of hv's
    /// describes); `disk` removes its qcow2 part. The folder goes last: a
    /// delete cut short leaves a snapshot that is listed as incomplete.
    public func delete(_ name: String, disk snapper: DiskSnapshotting?) throws {
        try SnapshotName.check(name)
        let m = manifestFile(name).value
        let tags = try snapper?.tags() ?? []
        guard m != nil || tags.contains(name) else {
            _ = try manifest(name)
            return
        }
        if tags.contains(name), m.map({ $0.disk.method == "internal" }) ?? true {
            try snapper?.delete(name)
        }
        let gone = root.appendingPathComponent(".\(name).deleting")
        try? FileManager.default.removeItem(at: gone)
        if rename(place(name).path, gone.path) == 0 {
            try? FileManager.default.removeItem(at: gone)
        }
        syncDirectory(root)
    }
}
