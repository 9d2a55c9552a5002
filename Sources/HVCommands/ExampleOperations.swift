import Foundation
import HVCore

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
                let running = try ctx.api.get("/v1/guests", as: [GuestStatus].self)
                    .filter { $0.state != .stopped && $0.state != .crashed && existing.contains($0.folder) }
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
                for disk in diskImages(in: folder.url) {
                    Out.say("    including the disk image \(disk.lastPathComponent) (\(sizeText(disk))): that guest's installation and settings")
                }
            }
            if hasConfig { Out.say("  \(layout.hvConfig.path)") }
            let stamp = backupStamp()
            Out.say("They are first moved to \(layout.backupDir.appendingPathComponent(stamp).path)/ (nothing is lost; disks under \(layout.vmsDir.path) are not touched).")
            try Confirm.ask("Delete these guests and open \"\(example.name)\"?", yes: yes)
            let backup = try moveToBackup(layout: layout, folders: existing, config: hasConfig, stamp: stamp)
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
        // Validate everything before writing anything.
        let hvDoc = try RegistryFile.read(store.hvConfig(of: example.name))
        let hv = try HypervisorConfig(hvDoc)
        var guestDocs: [(String, RegistryDocument)] = []
        for g in hv.guests {
            let doc = try RegistryFile.read(store.guestConfig(of: example.name, folder: g.folder))
            _ = try GuestConfig(base: doc, user: RegistryDocument(fileName: "usr.config"))
            guestDocs.append((g.folder, doc))
        }
        var out = hvDoc
        out.fileName = layout.hvConfig.path
        try RegistryFile.write(out, to: layout.hvConfig)
        Out.say("Wrote \(layout.hvConfig.path)")
        for (folder, doc) in guestDocs {
            let gf = layout.guest(folder)
            let written = try GuestFiles.write(guestConfig: doc, into: gf)
            Out.say("Wrote \(gf.url.path)/ (\(written.map(\.lastPathComponent).joined(separator: ", ")))")
        }
        if let loaded = try? ctx.api.get("/v1/vmf", as: VMFStatus.self), loaded.loaded {
            Out.say("note: the VMF is loaded with the previous configuration; reload it: hv_vmf_stop && hv_vmf_start")
        }
        if let first = hv.guests.first(where: { $0.kind == .rtos }) ?? hv.guests.first {
            Out.say("Next: cd \(layout.guest(first.folder).url.path) && hv_vmf_start && hv_guest_start -view")
        }
    }

    static func backupStamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }

    /// Moves (never copies, never deletes) guest folders and hv.config into backup/<stamp>/.
    static func moveToBackup(layout: HostLayout, folders: [String], config: Bool, stamp: String) throws -> URL {
        let fm = FileManager.default
        var dir = layout.backupDir.appendingPathComponent(stamp)
        var n = 1
        while fm.fileExists(atPath: dir.path) { n += 1; dir = layout.backupDir.appendingPathComponent("\(stamp)-\(n)") }
        try fm.createDirectory(at: dir.appendingPathComponent("guests"), withIntermediateDirectories: true)
        for f in folders {
            try fm.moveItem(at: layout.guestsDir.appendingPathComponent(f), to: dir.appendingPathComponent("guests").appendingPathComponent(f))
            // Runtime leftovers of a stopped guest go too.
            try? fm.removeItem(at: layout.guest(f).runDir)
        }
        if config {
            try fm.createDirectory(at: dir.appendingPathComponent("config"), withIntermediateDirectories: true)
            try fm.moveItem(at: layout.hvConfig, to: dir.appendingPathComponent("config/hv.config"))
        }
        return dir
    }

    static func diskImages(in dir: URL) -> [URL] {
        let items = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
        return items.filter { ["qcow2", "img", "raw", "vmdk", "vdi"].contains($0.pathExtension.lowercased()) }
    }

    static func sizeText(_ url: URL) -> String {
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.doubleValue ?? 0
        let gib = Double(1 << 30), mib = Double(1 << 20)
        return bytes >= gib ? String(format: "%.1f GiB", bytes / gib) : String(format: "%.0f MiB", bytes / mib)
    }
}
