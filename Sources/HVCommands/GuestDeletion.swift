import Foundation
import HVCore

/// `hv guest delete`: names everything that goes (a disk in the guest folder
/// with its size above all), asks, and moves the folder into backup/<time>/.
/// Disks configured elsewhere (VMs/) are never touched.
enum GuestDeletion {
    static func delete(_ ctx: Context, ref: String, yes: Bool) throws {
        let layout = ctx.layout
        let g = try ctx.api.get("/v1/guests/\(ref)", as: GuestStatus.self)
        guard g.state == .stopped || g.state == .crashed else {
            throw HVError(.conflict, "guest \(g.folder) is \(g.state.rawValue)\(g.pid.map { " (pid \($0))" } ?? ""); a running guest is never deleted",
                          hint: "stop it first: hv guest stop \(g.folder)")
        }
        let folder = layout.guest(g.folder)
        let config = try? GuestConfig.load(from: folder)
        Out.say("Deleting guest \(g.folder) (\(g.name)) removes:")
        Out.say("  \(folder.url.path)/, with everything in it")
        for disk in ExampleOperations.diskImages(in: folder.url) {
            Out.say("    including the disk image \(disk.path) (\(ExampleOperations.sizeText(disk))): the guest's installed system and all its settings")
        }
        for extra in [folder.nvram, folder.tpmDir] where FileManager.default.fileExists(atPath: extra.path) {
            Out.say("    including \(extra.lastPathComponent) (its UEFI variables / TPM state)")
        }
        let hvDoc = try RegistryFile.readIfPresent(layout.hvConfig)
        let section = "Guests\\\(g.folder)"
        let listed = hvDoc.map { !$0.entries(in: section).isEmpty } ?? false
        if listed { Out.say("  its entry [\(section)] in \(layout.hvConfig.path)") }
        if let config, config.kind == .kvm, !config.diskImage.isEmpty {
            Out.say("Kept: the disk \(layout.resolve(config.diskImage).path) (configured outside the guest folder; hv never deletes it).")
        }
        let stamp = ExampleOperations.backupStamp()
        Out.say("The folder is moved to \(layout.backupDir.appendingPathComponent(stamp).path)/ (nothing is lost: move it back to restore the guest).")
        try Confirm.ask("Delete guest \(g.folder)?", yes: yes)
        let backup = try ExampleOperations.moveToBackup(layout: layout, folders: [g.folder], config: false, stamp: stamp)
        if listed, var doc = hvDoc {
            // The old hv.config goes to the backup too; the new one is written atomically.
            try FileManager.default.createDirectory(at: backup.appendingPathComponent("config"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: layout.hvConfig, to: backup.appendingPathComponent("config/hv.config"))
            doc.removeSection(section)
            try RegistryFile.write(doc, to: layout.hvConfig)
        }
        Out.say("Deleted guest \(g.folder); saved in \(backup.path)")
        if let vmf = try? ctx.api.get("/v1/vmf", as: VMFStatus.self), vmf.loaded, vmf.reservedCores[g.folder] != nil {
            Out.say("note: the loaded VMF still reserves a core for it; reload: hv_vmf_stop && hv_vmf_start")
        }
    }
}
