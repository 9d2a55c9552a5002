import Foundation

/// Every path of the host layout under one root (`/hv`, or `$HV_ROOT`).
/// Nothing else in hv builds host paths by string concatenation.
public struct HostLayout: Sendable, Equatable {
    public let root: URL

    public init(root: URL) { self.root = root.standardizedFileURL }

    /// `$HV_ROOT` when set and not empty, else `/hv`.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> HostLayout {
        if let r = env["HV_ROOT"], !r.isEmpty {
            let url = URL(fileURLWithPath: r, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            return HostLayout(root: url.absoluteURL)
        }
        return HostLayout(root: URL(fileURLWithPath: "/hv"))
    }

    public var configDir: URL { root.appendingPathComponent("config") }
    public var hvConfig: URL { configDir.appendingPathComponent("hv.config") }
    /// Which System Manager project is open (written by hv_open_example).
    public var managerConfig: URL { configDir.appendingPathComponent("manager.config") }
    public var guestsDir: URL { root.appendingPathComponent("guests") }
    public var templatesDir: URL { root.appendingPathComponent("templates") }
    public var projectsDir: URL { root.appendingPathComponent("projects") }
    public var isoDir: URL { root.appendingPathComponent("iso") }
    public var vmsDir: URL { root.appendingPathComponent("VMs") }
    public var runDir: URL { root.appendingPathComponent("run") }
    public var logDir: URL { root.appendingPathComponent("log") }
    public var backupDir: URL { root.appendingPathComponent("backup") }

    public var daemonSocket: URL { runDir.appendingPathComponent("hvd.sock") }
    public var daemonLock: URL { runDir.appendingPathComponent("hvd.lock") }
    public var daemonLog: URL { logDir.appendingPathComponent("hvd.log") }
    /// The loaded VMF state, kept so that a restarted hvd is still loaded.
    public var vmfState: URL { runDir.appendingPathComponent("vmf.json") }
    /// The CPU partition in force while the VMF is loaded (cpusets, moved IRQs).
    public var partitionState: URL { runDir.appendingPathComponent("partition.json") }
    /// What hv holds of the host, so a new hvd gives it back: PCI devices bound to vfio-pci,
    public var devicesRecord: URL { runDir.appendingPathComponent("devices.json") }
    /// USB devices handed to guests' users,
    public var usbDevicesRecord: URL { runDir.appendingPathComponent("usb-devices.json") }
    /// bridges and TAPs made for bridged KVM guests (and their nftables rules),
    public var bridgesRecord: URL { runDir.appendingPathComponent("bridges.json") }
    public var bridgesRules: URL { runDir.appendingPathComponent("bridges.nft") }
    /// the VMF network's rules (nftables, inside hv's namespace).
    public var vmfNetworkRules: URL { runDir.appendingPathComponent("vmf-network.nft") }

    /// Names this host root's machine-wide objects (shared-memory folder,
    /// network namespace), so two hv roots on one machine do not collide.
    public var instanceID: String {
        var h: UInt32 = 2_166_136_261
        for b in root.path.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return "hv-" + String(h, radix: 16)
    }
    /// The ivshmem server of a set of events (`CommunicationConfig.EventSet`,
    /// numbered from 1): the QEMUs of that set's guests connect.
    public func ivshmemSocket(set: Int) -> URL { runDir.appendingPathComponent("ivshmem-\(set).sock") }
    /// The same set's doorbells for host programs (root's only): the same protocol, a seat each.
    public func eventsHostSocket(set: Int) -> URL { runDir.appendingPathComponent("events-host-\(set).sock") }
    /// The System Manager's token (root only) and its port's configuration.
    public var managerToken: URL { runDir.appendingPathComponent("manager.token") }
    /// The read-only credential for `GET /v1/metrics` (Prometheus), root's like the token.
    public var metricsToken: URL { runDir.appendingPathComponent("metrics.token") }
    /// Whether the host's seat on the VMF network is attached (a new hvd keeps it so).
    public var netState: URL { runDir.appendingPathComponent("net.json") }
    /// Shared-memory regions live in RAM, per host root: /dev/shm/hv/<instance>/<name>.
    public var sharedMemoryDir: URL { URL(fileURLWithPath: "/dev/shm/hv").appendingPathComponent(instanceID) }
    public func sharedRegion(_ name: String) -> URL { sharedMemoryDir.appendingPathComponent(name) }
    /// A set's events table (a region of its own, mapped by that set's doorbell devices only).
    public func eventsRegion(set: Int) -> URL { sharedMemoryDir.appendingPathComponent(".events-\(set)") }

    /// hv's own SSH key pair and the host keys of the guests it made (root's alone, outside
    /// /hv/guests, which every guest sees): `hv guest ssh` logs in with them.
    public var keysDir: URL { root.appendingPathComponent("keys") }
    public var sshKey: URL { keysDir.appendingPathComponent("hv_ed25519") }
    public func guestHostKey(_ folder: String) -> URL { keysDir.appendingPathComponent("known_hosts.\(folder)") }

    /// A path from a configuration: absolute as given, else under HV_ROOT.
    public func resolve(_ path: String) -> URL {
        path.hasPrefix("/")
            ? URL(fileURLWithPath: path).standardizedFileURL
            : root.appendingPathComponent(path).standardizedFileURL
    }

    public func template(_ name: String) -> URL { templatesDir.appendingPathComponent(name) }
    public func project(_ name: String) -> URL { projectsDir.appendingPathComponent(name) }
    public func guest(_ folder: String) -> GuestFolder {
        GuestFolder(url: guestsDir.appendingPathComponent(folder), runDir: runDir.appendingPathComponent(folder))
    }

    /// The directories every host has; created with mode 0755 (run/ 0710:
    /// it holds sockets; the group hv-qemu may pass through to its guests' folders).
    public var standardDirectories: [(URL, Int)] {
        [
            (root, 0o755), (configDir, 0o755), (guestsDir, 0o755), (templatesDir, 0o755),
            (projectsDir, 0o755), (isoDir, 0o755), (vmsDir, 0o755), (runDir, 0o710),
            (logDir, 0o755), (backupDir, 0o700),
        ]
    }

    /// The guest folder that `directory` lies in, if any (by folder name).
    public func guestFolderName(containing directory: URL) -> String? {
        let dir = directory.resolvingSymlinksInPath().standardizedFileURL.pathComponents
        let guests = guestsDir.resolvingSymlinksInPath().standardizedFileURL.pathComponents
        guard dir.count > guests.count, Array(dir.prefix(guests.count)) == guests else { return nil }
        return dir[guests.count]
    }
}

/// One guest's folder (user-visible files) and its runtime directory.
public struct GuestFolder: Sendable, Equatable {
    public let url: URL
    public let runDir: URL

    public var name: String { url.lastPathComponent }
    public var guestConfigScript: URL { url.appendingPathComponent("guest_config.sh") }
    public var userConfigScript: URL { url.appendingPathComponent("usr_guest_config.sh") }
    public var guestConfig: URL { url.appendingPathComponent("guest.config") }
    public var userConfig: URL { url.appendingPathComponent("usr.config") }
    public var shutdownHook: URL { url.appendingPathComponent("vm_shutdown_hook.sh") }
    public var shutdownHookLog: URL { url.appendingPathComponent("shutdown_hook.log") }
    public var consoleLog: URL { url.appendingPathComponent("console.log") }
    public var consoleLogPrevious: URL { url.appendingPathComponent("console.log.1") }

    /// What QEMU itself creates (its sockets, its pid file, a screendump):
    /// the only place under run/ the guest's user may write. hvd's own
    /// files (state.json, lock, qemu.log) stay in runDir, root's.
    public var qemuDir: URL { runDir.appendingPathComponent("qemu") }
    public var qmpSocket: URL { qemuDir.appendingPathComponent("qmp.sock") }
    public var serialSocket: URL { qemuDir.appendingPathComponent("serial.sock") }
    public var pidFile: URL { qemuDir.appendingPathComponent("qemu.pid") }
    public var lockFile: URL { runDir.appendingPathComponent("lock") }
    public var stateFile: URL { runDir.appendingPathComponent("state.json") }
    /// QEMU's pid from its spawn until state.json exists: a new hvd ends a
    /// QEMU whose start was cut short (it would wait paused forever).
    public var startingFile: URL { runDir.appendingPathComponent("starting.pid") }
    public var qemuLog: URL { runDir.appendingPathComponent("qemu.log") }

    // KVM guests.
    /// The guest's display (VNC) on a Unix socket: reachable only by root on this host.
    public var vncSocket: URL { qemuDir.appendingPathComponent("vnc.sock") }
    public var swtpmSocket: URL { qemuDir.appendingPathComponent("swtpm.sock") }
    public var swtpmLog: URL { qemuDir.appendingPathComponent("swtpm.log") }
    /// Where QEMU writes a screendump before hv hands it over.
    public var screendump: URL { qemuDir.appendingPathComponent("screen.png") }
    /// The guest's own UEFI variables (boot entries, Secure Boot keys): part of the guest.
    public var nvram: URL { url.appendingPathComponent("OVMF_VARS.fd") }
    /// The guest's TPM 2.0 state (swtpm): part of the guest, like its disk.
    public var tpmDir: URL { url.appendingPathComponent("tpm") }
    /// The one place in the shared /hv/guests a guest may write: its own,
    /// owned by its QEMU's user (everything else there is root's and read-only to guests).
    public var exchangeDir: URL { url.appendingPathComponent("exchange") }
    /// The exchange folder's own file system (root's; mounted on exchangeDir).
    public var exchangeImage: URL { url.appendingPathComponent("exchange.img") }
    /// The disk of a guest whose configuration names none.
    public var defaultDisk: URL { url.appendingPathComponent("disk.qcow2") }

    public var exists: Bool { FileManager.default.fileExists(atPath: guestConfig.path) }
}
