import Foundation
import HVCore
import HVAPI
import HVEngine

/// hv_open_example and hv_sync_example. Opening replaces the host's guests:
/// it names what goes, asks, and moves it to backup/<time>/ first.
enum ExampleOperations {
    static func open(_ ctx: Context, name: String, yes: Bool) throws {
        let example = try ExampleCatalogue.named(name)
        let layout = ctx.layout
        try layout.ensureDirectories()
        let fm = FileManager.default
        let existing = ((try? fm.contentsOfDirectory(atPath: layout.guestsDir.path)) ?? []).sorted()
            .filter { !$0.hasPrefix(".") }
        let hasConfig = fm.fileExists(atPath: layout.hvConfig.path)
        if !existing.isEmpty || hasConfig {
            // A running guest is never deleted from under itself.
            if !existing.isEmpty {
                let running = try ctx.api.get(.guestList, as: [GuestStatus].self)
                    .filter { $0.state.isActive && existing.contains($0.folder) }
                if !running.isEmpty {
                    throw HVError(.conflict, "these guests are running: \(running.map(\.folder).joined(separator: ", "))",
                                  hint: "stop them first (hv_guest_stop in their folders, or hv_vmf_stop), then open the example")
                }
            }
            Out.say("Opening the example \"\(example.name)\" replaces the current configuration. These will be deleted:")
            for f in existing {
                let folder = layout.guest(f)
                let label = (try? GuestConfig.load(from: folder)).map { " (\($0.name))" } ?? ""
                Out.say("  \(folder.url.path)\(label), with everything in it")
                for disk in Backup.diskImages(in: folder.url) {
                    Out.say("    including the disk image \(disk.lastPathComponent) (\(Backup.sizeText(disk))): that guest's installation and settings")
                }
            }
            if hasConfig { Out.say("  \(layout.hvConfig.path)") }
            let stamp = Backup.stamp()
            Out.say("They are first moved to \(layout.backupDir.appendingPathComponent(stamp).path)/ (nothing is lost; disks under \(layout.vmsDir.path) are not touched).")
            try Confirm.ask("Delete these guests and open \"\(example.name)\"?", yes: yes)
            // Guests' exchange folders are file systems of their own: unmounted before their folders move.
            for f in existing { ExchangeFolder.release(layout.guest(f)) }
            let backup = try Backup.move(layout: layout, folders: existing, config: hasConfig, stamp: stamp)
            Out.say("Saved the previous guests and configuration in \(backup.path)")
        }
        try ProjectStore(layout: layout).write(example)
        try ProjectStore(layout: layout).setOpenProject(example.name)
        Out.say("Opened the System Manager project \"\(example.name)\": \(example.summary)")
        Out.say("Next: hv_sync_example \(example.name)")
    }

    static func sync(_ ctx: Context, name: String) throws {
        let example = try ExampleCatalogue.named(name)
        let layout = ctx.layout
        let store = ProjectStore(layout: layout)
        guard store.openProject() == example.name,
              FileManager.default.fileExists(atPath: store.hvConfig(of: example.name).path) else {
            let open = store.openProject().map { "the open project is \"\($0)\"" } ?? "no project is open"
            throw HVError(.conflict, "cannot sync \"\(example.name)\": \(open)",
                          hint: "open it first: hv_open_example \(example.name)")
        }
        try layout.ensureDirectories()
        // Through hvd, the one writer of configuration, as the System Manager does:
        // validated first, then written file by file, atomically; refused while a guest it would change runs.
        let preview = try ctx.api.post(.projectSync(example.name), ProjectRequest(confirm: true), as: SyncPreview.self)
        Out.say(preview.changes.isEmpty ? "Nothing to change: the host already has \"\(example.name)\"" : "Synced \"\(example.name)\":")
        for change in preview.changes { Out.say("  \(change)") }
        let hv = try HypervisorConfig.load(layout.hvConfig)
        if let loaded = try? ctx.api.get(.vmfStatus, as: VMFStatus.self), loaded.loaded {
            Out.say("note: the VMF is loaded with the previous configuration; reload it: hv_vmf_stop && hv_vmf_start")
        }
        if let first = hv.guests.first(where: { $0.kind == .rtos }) ?? hv.guests.first {
            Out.say("Next: cd \(layout.guest(first.folder).url.path) && hv_vmf_start && hv_guest_start -view")
        }
    }
}
