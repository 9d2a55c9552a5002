import Foundation

/// System Manager projects on disk: projects/<name>/hv.config and
/// projects/<name>/guests/<folder>/guest.config, read here; hvd writes them
/// (HVDaemon's `Configuration/`).
public struct ProjectStore: Sendable {
    public let layout: HostLayout
    public init(layout: HostLayout) { self.layout = layout }

    public func hvConfig(of project: String) -> URL { layout.project(project).appendingPathComponent("hv.config") }
    public func guestConfig(of project: String, folder: String) -> URL {
        layout.project(project).appendingPathComponent("guests").appendingPathComponent(folder).appendingPathComponent("guest.config")
    }

    /// The project that hv_open_example (or the System Manager) opened last.
    public func openProject() -> String? {
        (try? RegistryFile.readIfPresent(layout.managerConfig))??.value("Manager", "OpenProject")
    }

}
