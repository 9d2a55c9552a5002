import Foundation
import HVAPI
import HVCore
import HVHost

/// hv_open_example and hv_sync_example. Opening replaces the host's guests:
/// it names what goes, asks, and moves it to backup/<time>/ first.
enum ExampleOperations {
    static func open(_ ctx: Context, name: String, yes: Bool) throws {
        // A typo is answered here, without starting hvd for it.
        let example = try ExampleCatalogue.named(name)
        let plan = try ctx.api.post(.exampleOpen(example.name), ExampleOpenRequest(confirm: false), as: ExampleOpenResult.self)
        if let backup = plan.backup {
            Out.say("Opening the example \"\(example.name)\" replaces the current configuration. These will be deleted:")
            for r in plan.replaced {
                Out.say("  \(r.path)\(r.name.map { " (\($0))" } ?? ""), with everything in it")
                for disk in r.disks { Out.say("    including the disk image \(disk): that guest's installation and settings") }
            }
            if let config = plan.hvConfig { Out.say("  \(config)") }
            Out.say("They are first moved to a folder of their own in \(backup)/ (nothing is lost; disks under \(ctx.layout.vmsDir.path) are not touched).")
            try Confirm.ask("Delete these guests and open \"\(example.name)\"?", yes: yes)
        }
        // hvd does it, the one writer of guest folders and projects, with these guests held stopped.
        let done = try ctx.api.post(
            .exampleOpen(example.name), ExampleOpenRequest(confirm: true, expect: plan.replaced.map(\.folder)),
            as: ExampleOpenResult.self)
        if let backup = done.backup { Out.say("Saved the previous guests and configuration in \(backup)") }
        Out.say("Opened the System Manager project \"\(example.name)\": \(example.summary)")
        Out.say("Next: hv_sync_example \(example.name)")
    }

    static func sync(_ ctx: Context, name: String) throws {
        let example = try ExampleCatalogue.named(name)
        let layout = ctx.layout
        let store = ProjectStore(layout: layout)
        guard store.openProject() == example.name,
            FileManager.default.fileExists(atPath: store.hvConfig(of: example.name).path)
        else {
            let open = store.openProject().map { "the open project is \"\($0)\"" } ?? "no project is open"
            throw HVError(
                .conflict, "cannot sync \"\(example.name)\": \(open)",
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
