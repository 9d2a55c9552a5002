import Foundation
import HVCore

/// hv as an installed service: the Debian package installs hvd.service (and
/// hv-autostart.service) for the root /hv. Where they are installed and
/// systemd runs, the CLI leaves starting and stopping hvd to systemd; anywhere
/// else (a development tree, the tests, another HV_ROOT) it starts hvd itself.
public enum SystemdService {
    public static let daemonUnit = "hvd.service"
    public static let autostartUnit = "hv-autostart.service"
    /// The root the installed units serve.
    public static let root = "/hv"
    static let unitDirectories = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]

    public static var systemdRuns: Bool { FileManager.default.fileExists(atPath: "/run/systemd/system") }

    public static var unitInstalled: Bool {
        unitDirectories.contains { FileManager.default.fileExists(atPath: "\($0)/\(daemonUnit)") }
    }

    public static func manages(_ layout: HostLayout) -> Bool {
        ProcessInfo.processInfo.environment["HV_NO_SYSTEMD"] == nil && systemdRuns && unitInstalled
            && layout.root.standardizedFileURL.path == root
    }
}
