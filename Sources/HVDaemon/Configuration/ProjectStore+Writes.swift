import Foundation
import HVCore
import HVHost

/// The project files hvd writes: an example's project when it is opened,
/// and which project is open.
extension ProjectStore {
    func write(_ example: Example) throws {
        var hv = example.hypervisorConfig.document()
        hv.fileName = hvConfig(of: example.name).path
        try RegistryFile.write(hv, to: hvConfig(of: example.name))
        for g in example.guests {
            try RegistryFile.write(
                GuestFiles.guestConfig(g, project: example.name),
                to: guestConfig(of: example.name, folder: g.folder))
        }
    }

    func setOpenProject(_ name: String) throws {
        var doc =
            (try? RegistryFile.readIfPresent(layout.managerConfig)) ?? nil
            ?? RegistryDocument(fileName: layout.managerConfig.path)
        if doc.entries.isEmpty { doc.addComment("System Manager state, written by hv.") }
        doc.set("Manager", "OpenProject", name)
        try RegistryFile.write(doc, to: layout.managerConfig)
    }
}
