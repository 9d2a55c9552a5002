import Foundation
import HVAPI
import HVCore
import HVEngine

/// `hv guest backup`: one archive of the guest (GuestBackup), its one
/// operation at a time with its starts, stops and snapshots. While the guest
/// runs, QEMU makes a snapshot for the backup (the disk as one moment's),
/// qemu-img reads that snapshot while QEMU writes on, and the snapshot goes
/// when the copy is made.
extension GuestSupervisor {
    static let backupTagPrefix = "hv-backup-"

    func backup(to: String?) throws -> GuestBackupResult {
        let dir = to.map { URL(fileURLWithPath: $0) } ?? ctx.layout.backupDir
        let identity = self.identity
        let config = try GuestConfig.load(from: folder)
        let entry = (try? RegistryFile.readIfPresent(ctx.layout.hvConfig))??.entries(in: "Guests\\\(folder.name)").map { [$0.key, $0.value] } ?? []
        return try withDiskOperation("take a backup", stoppedOnly: false) { store, running in
            var source = GuestBackup.DiskSource.image
            let disk = store.disk.flatMap { $0.exists ? $0 : nil }
            if let running, let disk {
                guard disk.format == .qcow2 else {
                    throw HVError(
                        .unsupported, "the disk of \(folder.name) is a raw image: it can be backed up only while the guest is stopped",
                        hint: "stop the guest first, or convert the disk to qcow2; nothing was changed")
                }
                let tag = Self.backupTagPrefix + Timestamp.compact()
                try running.create(tag)
                source = .snapshot(tag)
            }
            defer {
                if case .snapshot(let tag) = source { try? running?.delete(tag) }
                shared.withLock { $0.backup = nil }
            }
            let diskBytes = disk.map { GuestFileCopy.allocatedBytes($0.url) } ?? 0
            shared.withLock { $0.backup = GuestBackupProgress(phase: "starting", bytes: 0, diskBytes: diskBytes) }
            let writer = GuestBackup(folder: folder, layout: ctx.layout, disk: disk, identity: identity, name: config.name, kind: config.kind)
            let made = try writer.write(into: dir, source: source, hvConfigEntry: entry) { [weak self] phase, bytes in
                self?.shared.withLock { $0.backup = GuestBackupProgress(phase: phase, bytes: bytes, diskBytes: diskBytes) }
            }
            let whileRunning = running != nil
            let size =
                made.bytes >= 1 << 30
                ? String(format: "%.1f GiB", Double(made.bytes) / Double(1 << 30))
                : made.bytes >= 1 << 20 ? "\(made.bytes >> 20) MiB" : "\(max(1, made.bytes >> 10)) KiB"
            ctx.events.post(.backupWritten, guest: folder.name, "\(made.archive.path) (\(size)\(whileRunning ? ", taken while it ran" : ""))")
            let notes = made.manifest.leftOut.isEmpty ? "" : "; left out: " + made.manifest.leftOut.joined(separator: "; ")
            let how = !whileRunning ? "" : disk == nil ? ", taken while it ran" : ", taken while it ran: its disk as one moment's"
            return GuestBackupResult(
                message: "wrote the backup of \(folder.name) to \(made.archive.path) (\(size), \(made.manifest.files.count) files\(how))\(notes)",
                archive: made.archive.path, bytes: made.bytes, whileRunning: whileRunning)
        }
    }

    func backupProgress() -> GuestBackupProgress {
        shared.withLock { $0.backup } ?? GuestBackupProgress(phase: nil, bytes: 0, diskBytes: 0)
    }
}

extension DaemonContext {
    /// `hv guest restore`: hvd's socket only (what it restores becomes a guest
    /// whose scripts hv runs as root); asks first; overwrites nothing.
    func restore(_ r: RestoreRequest) throws -> RestoreResult {
        guard r.archive.hasPrefix("/") else {
            throw HVError(.invalidArgument, "name the backup by its full path, not \"\(r.archive)\"")
        }
        let restore = GuestRestore(archive: URL(fileURLWithPath: r.archive), layout: layout, as: r.as)
        let plan = try restore.plan()
        guard r.confirm else {
            throw HVError(
                .needsConfirmation,
                "restoring \(plan.manifest.name) (\(plan.manifest.folder), taken \(plan.manifest.createdAt)) creates: " + plan.steps.joined(separator: "; "),
                hint: "show this to the user and send {\"confirm\": true}")
        }
        let done = try restore.perform()
        events.post(.restored, guest: done.folder, done.message)
        // An RTOS guest runs on cores the VMF reserves when it is loaded.
        let reload =
            plan.manifest.kind == GuestKind.rtos.rawValue && vmf.current != nil
            ? "; it is not in the loaded VMF: reload it (hv_vmf_stop, then hv_vmf_start) before starting the guest" : ""
        return RestoreResult(message: done.message + reload, folder: done.folder)
    }
}
