import Foundation

public enum GuestKind: String, Sendable, Codable, CaseIterable {
    /// A real-time guest on reserved cores (RT-Linux, VxWorks, RTOS-32).
    case rtos
    /// An unmodified general-purpose guest (Windows, Ubuntu).
    case kvm
}

public enum GuestOS: String, Sendable, Codable, CaseIterable {
    case rtLinux = "rt-linux"
    case vxworks
    case rtos32 = "rtos-32"
    case windows
    case ubuntu

    public var kind: GuestKind {
        switch self {
        case .rtLinux, .vxworks, .rtos32: .rtos
        case .windows, .ubuntu: .kvm
        }
    }

    public var displayName: String {
        switch self {
        case .rtLinux: "RT-Linux"
        case .vxworks: "VxWorks"
        case .rtos32: "On Time RTOS-32"
        case .windows: "Windows"
        case .ubuntu: "Ubuntu"
        }
    }
}

public enum Firmware: String, Sendable, Codable, CaseIterable {
    case uefi, bios
}

public enum ISOAttach: String, Sendable, Codable, CaseIterable {
    /// The ISO is attached (and booted) only while the disk holds no system.
    case untilInstalled = "until-installed"
    /// The ISO stays attached after the install (the disk boots first).
    case always
}

/// What an RT-Linux guest boots into.
public enum RTLinuxRoot: String, Sendable, Codable, CaseIterable {
    /// Debian 12 on a disk of its own, made from hv's template at the first start; it persists.
    case debian
    /// The busybox initramfs with cyclictest: the smallest, fastest guest; nothing persists.
    case busybox
}

public enum AcceleratorChoice: String, Sendable, Codable, CaseIterable {
    case auto, kvm, tcg
}

/// A guest's validated configuration: `guest.config` with `usr.config`
/// laid over it key by key.
public struct GuestConfig: Sendable, Equatable, Codable {
    public var name: String
    public var os: GuestOS
    public var kind: GuestKind { os.kind }
    public var vcpus: Int
    public var accelerator: AcceleratorChoice
    public var memoryMiB: Int
    /// "auto", "yes" or "no": whether an RTOS guest's memory is preallocated and locked.
    public var lockMemory: String
    public var hugePages: Bool
    /// RTOS guests: the folder under templates/ holding the boot image.
    public var image: String
    public var kernelArgs: String
    /// RT-Linux: the Debian root on its own disk, or the busybox initramfs.
    public var root: RTLinuxRoot
    /// RT-Linux on its Debian root (the only RTOS guest with a disk of its own).
    public var hasRootDisk: Bool { os == .rtLinux && root == .debian }
    /// RTOS guests: the console line that ends the boot ("": the image prints none).
    public var readyLine: String
    /// What the RT-Linux image's init prints when its shell is ready.
    public static let rtLinuxReadyLine = "hv-guest: ready"
    public var consoleLogMaxKiB: Int
    public var stopTimeoutSeconds: Int
    /// A boot that prints nothing for this long is reported (and retried once).
    public var bootStallSeconds: Int
    /// SCHED_FIFO priority of an RTOS guest's vCPU threads (0: leave them SCHED_OTHER).
    public var rtPriority: Int
    /// Whether the host folder /hv/guests is shared into the guest.
    public var shareGuestsFolder: Bool
    /// The exchange folder's file system, in MiB.
    public var exchangeMiB: Int
    /// KVM guests: the disk image (relative to HV_ROOT unless absolute; empty: one in the guest folder).
    public var diskImage: String
    public var diskSizeGiB: Int
    /// KVM guests: the installation ISO (relative to HV_ROOT unless absolute).
    public var installISO: String
    /// KVM guests: whether the ISO stays attached once a system is installed.
    public var isoAttach: ISOAttach
    /// KVM guests: UEFI (OVMF, with NVRAM in the guest folder) or legacy BIOS.
    public var firmware: Firmware
    /// KVM guests: a TPM 2.0 (swtpm); auto = for Windows when swtpm is installed.
    public var tpm: String
    /// KVM guests: the loopback port of the display's WebSocket (0: any free port).
    public var webSocketPort: Int
    /// KVM guests: "user" (QEMU's private NAT network, with SMB for Windows) or "none".
    public var networkMode: String
    /// KVM guests on the user-mode network: host ports forwarded into the guest.
    public var hostForwards: [PortForward]
    /// KVM guests with Mode bridge: the host bridge or free interface their NIC joins.
    public var bridge: String
    /// What hvd does when the guest's QEMU ends without being asked to.
    public var onCrash: CrashPolicy
    /// A hung guest: the KVM watchdog device's action, RT-Linux's heartbeat.
    public var watchdog: WatchdogAction
    public var heartbeatTimeoutSeconds: Int
    /// Host PCI devices the guest gets for itself (VFIO), in sysfs spelling.
    public var pciDevices: [String]
    /// KVM guests: host USB devices (QEMU's usb-host).
    public var usbDevices: [USBDeviceSpec]
    /// Take a device although the host uses it (a NIC with an address, a mounted disk).
    public var takeDevicesInUse: Bool
    /// PCI devices without a reset method may be assigned (the host gets them back as the guest left them).
    public var allowDevicesWithoutReset: Bool
    /// SCHED_FIFO priority of the threads of the devices' interrupts (PREEMPT_RT hosts).
    public var irqPriority: Int

    /// Every key of guest.config and usr.config, declared once: the parser,
    /// the defaults below, the edit form, the generated guest.config and
    /// docs/CONFIG.md all read it.
    public static let schema = ConfigSchema(sections: [
        .init(
            "Guest",
            [
                .init("Name", .text, required: true, field: .init("name", "Name"), help: "the guest's name as shown everywhere"),
                .init("Os", .choice(GuestOS.allCases.map(\.rawValue)), required: true, help: "the guest operating system"),
                .init("Kind", .choice(GuestKind.allCases.map(\.rawValue)), default: .described("from Os"), help: "rtos or kvm; must match Os"),
                .init("Description", .text, help: "free text"),
            ]),
        .init(
            "Guest\\Cpu",
            [
                .init(
                    "Cores", .integer(1...64), aliases: ["Cpus", "Cpu", "VCpus", "Vcpu", "Cpu"], default: .value("1"),
                    field: .init("cores", "Cores"),
                    help: "number of virtual CPUs; an RTOS guest gets one reserved physical core per vCPU (each vCPU SCHED_FIFO on its own core)"),
                .init(
                    "Accelerator", .choice(AcceleratorChoice.allCases.map(\.rawValue)), default: .value("auto"),
                    help: "auto: KVM only where the CPU shows vmx/svm, else TCG"),
                .init(
                    "RtPriority", .integer(0...99), default: .byKind(rtos: "50", kvm: "0"), field: .init("rtPriority", "RT priority", only: .rtos),
                    help: "SCHED_FIFO priority of the vCPU threads of an RTOS guest; 0 leaves them SCHED_OTHER"),
            ]),
        .init(
            "Guest\\Memory",
            [
                .init(
                    "SizeMiB", .integer(16...1_048_576), aliases: ["Size", "Memory", "Mem", "Ram", "MiB", "SizeMB"],
                    default: .byKind(rtos: "256", kvm: "4096"), field: .init("memoryMiB", "Memory MiB"), help: "guest RAM in MiB"),
                .init(
                    "HugePages", .boolean, default: .value("no"),
                    help: "back the guest's memory with 2 MiB huge pages (reserve them first: /proc/sys/vm/nr_hugepages)"),
                .init(
                    "Lock", .choice(["auto", "yes", "no"]), default: .value("auto"),
                    help: "RTOS guests: preallocate and lock the guest's memory; auto: with KVM only (under TCG it guarantees nothing and costs ~250 MiB more)"),
            ]),
        .init(
            "Guest\\Boot",
            [
                .init(
                    "Image", .text, default: .described("the Os (e.g. `rt-linux`)"), field: .init("image", "Image", only: .rtos),
                    help: "RTOS guests: the image folder under templates/"),
                .init("KernelArgs", .text, default: .value(""), help: "RT-Linux: extra kernel command-line arguments"),
                .init(
                    "Root", .choice(RTLinuxRoot.allCases.map(\.rawValue)), default: .value(RTLinuxRoot.debian.rawValue),
                    help:
                        "RT-Linux: debian = Debian 12 on a disk of its own (made from hv's template at the first start, where [Guest\\Disk] Image says; what you install persists; ssh, apt, systemd units); busybox = the busybox initramfs with cyclictest (the smallest, fastest guest; nothing outside exchange/ persists)"
                ),
                .init(
                    "ReadyLine", .text, default: .described("`hv-guest: ready` for RT-Linux (its init prints it); none for other images"),
                    help:
                        "RTOS guests: text the image prints on its console when it is up; hv_guest_start waits for it, and a boot that prints nothing for BootStallSeconds before it is reset once, then reported. Empty: the image prints none (the start answers at once)"
                ),
                .init("BootStallSeconds", .integer(3...3600), default: .value("30"), help: "report a boot that prints nothing for this long"),
                .init(
                    "Firmware", .choice(Firmware.allCases.map(\.rawValue)), default: .value(Firmware.uefi.rawValue),
                    help: "KVM guests: uefi (OVMF; the guest's NVRAM is OVMF_VARS.fd in its folder) or bios"),
            ]),
        .init(
            "Guest\\Console",
            [
                .init("LogMaxKiB", .integer(16...1_048_576), default: .value("1024"), help: "console.log is rotated to console.log.1 past this size")
            ]),
        .init(
            "Guest\\Stop",
            [
                .init(
                    "TimeoutSeconds", .integer(1...3600), default: .byKind(rtos: "10", kvm: "120"),
                    help: "how long a graceful stop may take before it is forced")
            ]),
        .init(
            "Guest\\Share",
            [
                .init("GuestsFolder", .boolean, default: .value("yes"), help: "share the host folder /hv/guests into the guest"),
                .init(
                    "ExchangeMiB", .integer(16...1_048_576), default: .value("256"),
                    help:
                        "the size of the guest's exchange folder, its one writable place in /hv/guests (its own file system, made on first start; a new size applies to a new exchange.img)"
                ),
            ]),
        .init(
            "Guest\\Disk",
            [
                .init(
                    "Image", .text, default: .value(""), field: .init("diskImage", "Disk image", only: .kvm),
                    help:
                        "KVM guests and RT-Linux on its Debian root: disk image path (relative to HV_ROOT unless absolute; .qcow2, else raw); empty puts disk.qcow2 in the guest folder"
                ),
                .init(
                    "SizeGiB", .integer(1...65_536), default: .byKind(rtos: "8", kvm: "64"), field: .init("diskSizeGiB", "Disk size GiB", only: .kvm),
                    help: "size of a disk image created at first start (RT-Linux: its Debian root grows to it at the first boot)"),
            ]),
        .init(
            "Guest\\Install",
            [
                .init(
                    "Iso", .text, default: .value(""), field: .init("iso", "Installation ISO", only: .kvm),
                    help: "KVM guests: the installation ISO (relative to HV_ROOT unless absolute)"),
                .init(
                    "Attach", .choice(ISOAttach.allCases.map(\.rawValue)), default: .value(ISOAttach.untilInstalled.rawValue),
                    field: .init("isoAttach", "ISO attached", only: .kvm),
                    help:
                        "until-installed: the ISO is attached and booted only while the disk holds no system; always: it stays attached (the disk boots first)"),
            ]),
        .init(
            "Guest\\Display",
            [
                .init(
                    "WebSocketPort", .integer(0...65535), default: .value("0"),
                    help:
                        "KVM guests: a loopback TCP port for QEMU's own VNC WebSocket (a local noVNC client); 0: none, because it has no authentication (any local user could use the desktop); the System Manager shows the desktop behind its token without it"
                )
            ]),
        .init(
            "Guest\\Security",
            [
                .init(
                    "Tpm", .choice(["auto", "yes", "no"]), default: .value("auto"),
                    help: "KVM guests: a TPM 2.0 (swtpm, state in the guest folder's tpm/); auto: for Windows when swtpm is installed")
            ]),
        .init(
            "Guest\\Recovery",
            [
                .init(
                    "OnCrash", .choice(CrashPolicy.Action.allCases.map(\.rawValue)), default: .value(CrashPolicy.Action.stay.rawValue),
                    help:
                        "what hvd does when the guest's QEMU ends unasked (killed, crashed): stay leaves it crashed; restart starts it again, at most RestartLimitBurst times within RestartLimitIntervalSeconds"
                ),
                .init("RestartLimitBurst", .integer(1...100), default: .value("3"), help: "OnCrash restart: at most this many restarts ..."),
                .init(
                    "RestartLimitIntervalSeconds", .integer(10...86_400), default: .value("600"),
                    help: "... within this many seconds; past the limit the guest stays crashed"),
                .init(
                    "Watchdog", .choice(WatchdogAction.allCases.map(\.rawValue)), default: .value(WatchdogAction.off.rawValue),
                    help:
                        "a hung guest: KVM guests get an emulated i6300esb watchdog (the guest's driver arms it), RT-Linux keeps a heartbeat (its init writes exchange/.hv-heartbeat every second); off, report (an event and a log line) or reset (that, and the guest is reset)"
                ),
                .init("HeartbeatTimeoutSeconds", .integer(2...3600), default: .value("10"), help: "RT-Linux: a heartbeat older than this is a missed beat"),
            ]),
        .init(
            "Guest\\Devices",
            [
                .init(
                    "Pci", .text, default: .value(""), field: .init("pciDevices", "PCI devices"),
                    help:
                        "host PCI devices the guest gets for itself (VFIO: a fieldbus NIC, a CAN or I/O board), comma-separated addresses as `hv devices list` shows them, e.g. 0000:03:00.0; a device's whole IOMMU group must be listed. At the start hv binds them to vfio-pci (and an RTOS guest's interrupts to its cores); at the stop it gives them back to their driver"
                ),
                .init(
                    "Usb", .text, default: .value(""),
                    help: "KVM guests: host USB devices, comma-separated vendor:product (046d:c52b) or ports as sysfs names them (1-2, 3-1.4)"),
                .init(
                    "AllowNoReset", .boolean, default: .value("no"),
                    help:
                        "yes: assign a PCI device the kernel cannot reset (no FLR, no bus reset); the host gets it back as the guest left it (firmware, state)"),
                .init(
                    "TakeInUse", .boolean, default: .value("no"),
                    help:
                        "yes: take a device although the host uses it (a NIC with an address, a controller with a mounted disk); the host loses it while the guest runs"
                ),
                .init(
                    "IrqPriority", .integer(1...99), default: .described("RtPriority + 1 (at most 99); 50 for KVM guests"),
                    help:
                        "SCHED_FIFO priority of the threads that serve the devices' interrupts (a PREEMPT_RT host threads them); an RTOS guest's run on its reserved cores"
                ),
            ]),
        .init(
            "Guest\\Network",
            [
                .init(
                    "Mode", .choice(["user", "bridge", "none"]), default: .value("user"), field: .init("networkMode", "Network", only: .kvm),
                    help:
                        "KVM guests: user = QEMU's private NAT network (Windows reaches /hv/guests there as \\\\10.0.2.4\\qemu); bridge = on a host network (see Bridge); none = no network card"
                ),
                .init(
                    "Bridge", .text, default: .value(""), field: .init("bridge", "Bridge", only: .kvm),
                    help:
                        "KVM guests with Mode bridge: a host bridge (e.g. br0) the guest's NIC joins, or a free host interface (no address) that hv bridges while guests use it and gives back when the last one stops"
                ),
                .init(
                    "HostForward", .text, default: .value(""), field: .init("hostForward", "Forwarded ports", only: .kvm),
                    help:
                        "KVM guests with Mode user: host ports forwarded into the guest, comma-separated protocol:[host address:]host port:guest port, e.g. tcp:8080:80 (loopback only) or tcp:0.0.0.0:3389:3389 (every address: the plant network too); host ports from 1024"
                ),
            ]),
    ])

    /// Reads and validates a guest folder's `guest.config` and `usr.config`.
    public static func load(from folder: GuestFolder) throws -> GuestConfig {
        guard let base = try RegistryFile.readIfPresent(folder.guestConfig) else {
            throw HVError(
                .notFound, "\(folder.guestConfig.path) does not exist",
                hint: "this folder is not a guest folder; create guests with hv_sync_example or the System Manager")
        }
        let user = try RegistryFile.readIfPresent(folder.userConfig) ?? RegistryDocument(fileName: folder.userConfig.path)
        return try GuestConfig(base: base, user: user)
    }

    public init(base: RegistryDocument, user: RegistryDocument) throws {
        do {
            try Self.schema.validate(base)
            try Self.schema.validate(user)
        } catch let e as ConfigError {
            throw e.asHVError
        }
        let v = LayeredValues(layers: [user, base])
        _ = try v.required("Guest", "Name")
        let osText = try v.required("Guest", "Os")
        guard let os = GuestOS(rawValue: osText.value.lowercased()) else {
            throw HVError(.internal, "validated Os \(osText.value) is unknown")
        }
        if let kind = v.get("Guest", "Kind"), kind.value.lowercased() != os.kind.rawValue {
            throw ConfigError(
                file: kind.file, line: kind.line,
                message: "\"Kind\"=\"\(kind.value)\" does not match \"Os\"=\"\(os.rawValue)\"",
                expected: "\"\(os.kind.rawValue)\" for \(os.displayName)"
            ).asHVError
        }
        name = try v.required("Guest", "Name").value
        self.os = os
        let d = SchemaValues(values: v, schema: Self.schema, kind: os.kind)
        vcpus = d.int("Guest\\Cpu", "Cores")
        accelerator = AcceleratorChoice(rawValue: d.choice("Guest\\Cpu", "Accelerator")) ?? .auto
        rtPriority = d.int("Guest\\Cpu", "RtPriority")
        memoryMiB = d.int("Guest\\Memory", "SizeMiB")
        lockMemory = d.choice("Guest\\Memory", "Lock")
        hugePages = d.bool("Guest\\Memory", "HugePages")
        image = v.get("Guest\\Boot", "Image")?.value ?? os.rawValue
        kernelArgs = d.text("Guest\\Boot", "KernelArgs")
        root = RTLinuxRoot(rawValue: d.choice("Guest\\Boot", "Root")) ?? .debian
        if os != .rtLinux, let set = v.get("Guest\\Boot", "Root") {
            throw ConfigError(
                file: set.file, line: set.line, message: "\"Root\" is for RT-Linux guests, and this is \(os.displayName)",
                expected: "no \"Root\" in [Guest\\Boot]"
            ).asHVError
        }
        readyLine = v.get("Guest\\Boot", "ReadyLine")?.value ?? (os == .rtLinux ? Self.rtLinuxReadyLine : "")
        bootStallSeconds = d.int("Guest\\Boot", "BootStallSeconds")
        consoleLogMaxKiB = d.int("Guest\\Console", "LogMaxKiB")
        stopTimeoutSeconds = d.int("Guest\\Stop", "TimeoutSeconds")
        shareGuestsFolder = d.bool("Guest\\Share", "GuestsFolder")
        exchangeMiB = d.int("Guest\\Share", "ExchangeMiB")
        diskImage = d.text("Guest\\Disk", "Image")
        diskSizeGiB = d.int("Guest\\Disk", "SizeGiB")
        installISO = d.text("Guest\\Install", "Iso")
        isoAttach = ISOAttach(rawValue: d.choice("Guest\\Install", "Attach")) ?? .untilInstalled
        firmware = Firmware(rawValue: d.choice("Guest\\Boot", "Firmware")) ?? .uefi
        tpm = d.choice("Guest\\Security", "Tpm")
        webSocketPort = d.int("Guest\\Display", "WebSocketPort")
        networkMode = d.choice("Guest\\Network", "Mode")
        let forwards = v.get("Guest\\Network", "HostForward")
        switch PortForward.parseList(forwards?.value ?? "") {
        case .success(let list): hostForwards = list
        case .failure(let e):
            throw ConfigError(
                file: forwards?.file ?? base.fileName, line: forwards?.line ?? 0,
                message: "\"HostForward\": " + e.message, expected: PortForward.expected
            ).asHVError
        }
        bridge = d.text("Guest\\Network", "Bridge").trimmingCharacters(in: .whitespaces)
        if networkMode == "bridge" {
            let entry = v.get("Guest\\Network", "Bridge") ?? v.get("Guest\\Network", "Mode")
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
            guard (1...15).contains(bridge.count), bridge.allSatisfy({ allowed.contains($0) }) else {
                throw ConfigError(
                    file: entry?.file ?? base.fileName, line: entry?.line ?? 0,
                    message: bridge.isEmpty ? "\"Mode\"=\"bridge\" names no \"Bridge\"" : "\"Bridge\"=\"\(bridge)\" is not an interface name",
                    expected: "\"Bridge\"=\"br0\" (a bridge or a free interface that `ip link` lists: up to 15 letters, digits, _ . -)"
                ).asHVError
            }
        }
        if !hostForwards.isEmpty && (os.kind != .kvm || networkMode != "user") {
            throw ConfigError(
                file: forwards?.file ?? base.fileName, line: forwards?.line ?? 0,
                message: "\"HostForward\" needs a KVM guest on the user-mode network (\"Mode\"=\"user\")",
                expected: "no HostForward, or \"Mode\"=\"user\" in [Guest\\Network]"
            ).asHVError
        }
        onCrash = CrashPolicy(
            action: CrashPolicy.Action(rawValue: d.choice("Guest\\Recovery", "OnCrash")) ?? .stay,
            burst: d.int("Guest\\Recovery", "RestartLimitBurst"),
            intervalSeconds: d.int("Guest\\Recovery", "RestartLimitIntervalSeconds"))
        watchdog = WatchdogAction(rawValue: d.choice("Guest\\Recovery", "Watchdog")) ?? .off
        heartbeatTimeoutSeconds = d.int("Guest\\Recovery", "HeartbeatTimeoutSeconds")
        (pciDevices, usbDevices) = try Self.devices(v, kind: os.kind, baseFile: base.fileName)
        takeDevicesInUse = d.bool("Guest\\Devices", "TakeInUse")
        allowDevicesWithoutReset = d.bool("Guest\\Devices", "AllowNoReset")
        irqPriority = v.int("Guest\\Devices", "IrqPriority") ?? (os.kind == .rtos ? min(99, rtPriority + 1) : 50)
        if name.trimmingCharacters(in: .whitespaces).isEmpty {
            let e = v.get("Guest", "Name")
            throw ConfigError(
                file: e?.file ?? base.fileName, line: e?.line ?? 0,
                message: "\"Name\" is empty", expected: "a name such as \"RT-Linux\""
            ).asHVError
        }
    }
}

/// Values looked up through several documents, first match wins, with the
/// file and line each came from.
struct LayeredValues {
    struct Found {
        var value: String
        var file: String
        var line: Int
    }
    let layers: [RegistryDocument]

    func get(_ section: String, _ key: String) -> Found? {
        for doc in layers {
            if let e = doc.entry(section, key) { return Found(value: e.value, file: doc.fileName, line: e.line) }
        }
        return nil
    }

    func required(_ section: String, _ key: String) throws -> Found {
        guard let f = get(section, key) else {
            throw ConfigError(
                file: layers.last?.fileName ?? "config", line: 0,
                message: "\"\(key)\" is missing from [\(section)]",
                expected: "\"\(key)\"=\"…\" in [\(section)]"
            ).asHVError
        }
        return f
    }

    /// Validated already: integers parse.
    func int(_ section: String, _ key: String) -> Int? { get(section, key).flatMap { Int($0.value) } }
}

/// Values with the schema's defaults: what a file sets, else the default
/// its declaration names for this kind of guest. The files were validated
/// first, so a value parses; an undeclared key is a mistake in hv (a unit
/// test reads every key through here).
struct SchemaValues {
    let values: LayeredValues
    let schema: ConfigSchema
    let kind: GuestKind

    func text(_ section: String, _ key: String) -> String {
        if let found = values.get(section, key) { return found.value }
        let declared = schema.key(section, key)
        assert(declared != nil, "[\(section)] \(key) is not declared in the schema")
        return declared?.defaultValue.text(for: kind) ?? ""
    }

    /// A choice, lower-cased as the schema compares it.
    func choice(_ section: String, _ key: String) -> String { text(section, key).lowercased() }
    func int(_ section: String, _ key: String) -> Int { Int(text(section, key)) ?? 0 }
    func bool(_ section: String, _ key: String) -> Bool { ConfigSchema.parseBool(text(section, key)) ?? false }
}

/// OnCrash with its limit, as systemd's Restart= with StartLimitBurst/StartLimitIntervalSec.
public struct CrashPolicy: Sendable, Equatable, Codable {
    public enum Action: String, Sendable, Codable, CaseIterable { case stay, restart }
    public var action: Action
    public var burst: Int
    public var intervalSeconds: Int

    /// The limits come from the configuration (their defaults are GuestConfig.schema's).
    public init(action: Action, burst: Int, intervalSeconds: Int) {
        self.action = action
        self.burst = burst
        self.intervalSeconds = intervalSeconds
    }

    /// No restart: what a guest whose configuration cannot be read gets.
    public static let never = CrashPolicy(action: .stay, burst: 0, intervalSeconds: 0)

    /// Whether one more restart fits, given the times of the earlier ones.
    public func allowsRestart(now: Date, after earlier: [Date]) -> Bool {
        guard action == .restart else { return false }
        return earlier.filter { now.timeIntervalSince($0) < Double(intervalSeconds) }.count < burst
    }
}

/// What a watchdog that expires (or a heartbeat that stops) leads to.
public enum WatchdogAction: String, Sendable, Codable, CaseIterable {
    case off, report, reset
}
