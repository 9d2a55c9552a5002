import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

/// hv_open_example and `hv backup prune`: they move or delete what hvd
/// writes (guest folders, hv.config, projects/, backup/), so hvd does them,
/// under its configuration lock, with every guest they touch held stopped.
extension DaemonContext {
    /// Asked (`confirm` false): what opening `name` replaces. Confirmed: the
    /// host's guest folders and hv.config move to backup/<time>/ (exchange
    /// folders unmounted first), then the example's project is written and
    /// opened. Refused while any of those guests runs, or when the folders
    /// are not the ones the user was shown.
    func openExample(_ name: String, _ request: ExampleOpenRequest) throws -> ExampleOpenResult {
        let example = try ExampleCatalogue.named(name)
        let fm = FileManager.default
        let existing = ((try? fm.contentsOfDirectory(atPath: layout.guestsDir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        let hasConfig = fm.fileExists(atPath: layout.hvConfig.path)
        let replaced = existing.map { f in
            let folder = layout.guest(f)
            return ExampleOpenResult.Replaced(
                folder: f, path: folder.url.path, name: (try? GuestConfig.load(from: folder))?.name,
                disks: Backup.diskImages(in: folder.url).map { "\($0.lastPathComponent) (\(Backup.sizeText($0)))" })
        }
        let goes = !existing.isEmpty || hasConfig
        var result = ExampleOpenResult(
            example: example.name, summary: example.summary, replaced: replaced,
            hvConfig: hasConfig ? layout.hvConfig.path : nil,
            backup: goes ? layout.backupDir.path : nil, opened: false)
        guard request.confirm else { return result }
        if let expected = request.expect, expected.sorted() != existing {
            throw HVError(
                .conflict, "the guests changed since you were asked: now \(existing.isEmpty ? "none" : existing.joined(separator: ", "))",
                hint: "run hv_open_example \(example.name) again to see what it replaces")
        }
        try layout.ensureDirectories()
        let running = existing.filter { supervisor($0).currentState.isActive || GuestLock.isHeld(layout.guest($0).lockFile) }
        guard running.isEmpty else {
            throw HVError(
                .conflict, "these guests are running: \(running.joined(separator: ", "))",
                hint: "stop them first (hv_guest_stop in their folders, or hv_vmf_stop), then open the example")
        }
        result.backup = try whileStopped(existing[...], "moved to backup/") { () -> String? in
            guard goes else { return nil }
            // Guests' exchange folders are file systems of their own: unmounted before their folders move.
            for f in existing { ExchangeFolder.release(layout.guest(f)) }
            return try Backup.move(layout: layout, folders: existing, config: hasConfig, stamp: Backup.stamp()).path
        }
        try ProjectStore(layout: layout).write(example)
        try ProjectStore(layout: layout).setOpenProject(example.name)
        result.opened = true
        log.info("opened the example \(example.name)" + (result.backup.map { "; the previous guests and configuration are in \($0)" } ?? ""))
        return result
    }

    /// Runs `body` with each of `folders` held stopped (see `GuestSupervisor.whileStopped`).
    private func whileStopped<T>(_ folders: ArraySlice<String>, _ verb: String, _ body: () throws -> T) throws -> T {
        guard let first = folders.first else { return try body() }
        return try supervisor(first).whileStopped(verb) { try whileStopped(folders.dropFirst(), verb, body) }
    }

    /// Asked: the backups beyond the newest `keep`. Confirmed: they are
    /// deleted, when they are still the ones the user was shown.
    func pruneBackups(_ request: BackupPruneRequest) throws -> BackupPruneResult {
        guard request.keep >= 0 else {
            throw HVError(.invalidArgument, "keep is a count of backups: 0 or more, not \(request.keep)")
        }
        let store = BackupStore(layout: layout)
        let going = Array(store.entries().dropFirst(request.keep))
        guard request.confirm, !going.isEmpty else { return BackupPruneResult(going: going, kept: request.keep, deleted: false) }
        if let expected = request.expect, expected != going.map(\.name) {
            throw HVError(
                .conflict, "backup/ changed since you were asked: now \(going.map(\.name).joined(separator: ", ")) would go",
                hint: "run hv backup prune again to see what it deletes")
        }
        for e in going { try store.delete(e) }
        log.info("backup/: deleted \(going.map(\.name).joined(separator: ", ")); kept the newest \(request.keep)")
        return BackupPruneResult(going: going, kept: request.keep, deleted: true)
    }
}
