import Foundation

/// System Manager projects on disk: projects/<name>/hv.config and
/// projects/<name>/guests/<folder>/guest.config. Opening an example writes its
/// project; syncing writes the project to config/hv.config and guests/.
public struct ProjectStore: Sendable {
    public let layout: HostLayout
    public init(layout: HostLayout) { self.layout = layout }

    public func hvConfig(of project: String) -> URL { layout.project(project).appendingPathComponent("hv.config") }
    public func guestConfig(of project: String, folder: String) -> URL {
        layout.project(project).appendingPathComponent("guests").appendingPathComponent(folder).appendingPathComponent("guest.config")
    }

    public func write(_ example: Example) throws {
        var hv = example.hypervisorConfig.document()
        hv.fileName = hvConfig(of: example.name).path
        try RegistryFile.write(hv, to: hvConfig(of: example.name))
        for g in example.guests {
            try RegistryFile.write(GuestFiles.guestConfig(g, project: example.name),
                                   to: guestConfig(of: example.name, folder: g.folder))
        }
    }

    /// The project that hv_open_example (or the System Manager) opened last.
    public func openProject() -> String? {
        (try? RegistryFile.readIfPresent(layout.managerConfig))??.value("Manager", "OpenProject")
    }

    public func setOpenProject(_ name: String) throws {
        var doc = (try? RegistryFile.readIfPresent(layout.managerConfig)) ?? nil
            ?? RegistryDocument(fileName: layout.managerConfig.path)
        if doc.entries.isEmpty { doc.addComment("System Manager state, written by hv.") }
        doc.set("Manager", "OpenProject", name)
        try RegistryFile.write(doc, to: layout.managerConfig)
    }
}
