import Foundation

/// The lifecycle of one guest, as hvd tracks it.
public enum GuestState: String, Sendable, Codable, CaseIterable {
    case stopped, starting, running, stopping, stalled, crashed

    /// A QEMU exists for the guest (or is being made or ended): it must not be
    /// rewritten, moved or started again. The one definition of "active".
    public var isActive: Bool { self != .stopped && self != .crashed }
}

/// Why a guest stopped: HV_STOP_REASON for vm_shutdown_hook.sh, the
/// guest's lastStop, and the lifecycle event.
public enum StopReason: String, Sendable, Codable, CaseIterable {
    /// Asked for (hv_guest_stop, the System Manager) and shut down gracefully.
    case requested
    /// Asked for, but it did not shut down within TimeoutSeconds.
    case forced
    /// The guest powered itself off.
    case guestPoweroff = "guest-poweroff"
    /// Its QEMU ended without being asked.
    case crashed
    /// hv_vmf_stop stopped it.
    case vmfUnload = "vmf-unload"
    /// It ended while no hvd was watching.
    case lost
}

/// What `hv guest list --json` and GET /v1/guests return for each guest.
public struct GuestStatus: Sendable, Codable, Equatable {
    public var name: String
    public var folder: String
    public var kind: String
    public var os: String
    public var state: GuestState
    public var pid: Int?
    /// Cores the guest's vCPUs are pinned to (empty: the host's cores).
    public var cores: [Int]
    public var accelerator: String?
    public var acceleratorReason: String?
    public var vcpus: Int
    public var memoryMiB: Int
    public var startedAt: String?
    /// Seconds from QEMU's start to the guest's ready line.
    public var bootSeconds: Double?
    public var booted: Bool
    public var schedFIFO: Bool
    public var consoleHolder: String?
    public var lastStop: String?
    /// Each vCPU thread's cores and scheduling policy as the kernel reports them now.
    public var vcpuPlacement: [VCPUPlacement]
    /// QEMU's main thread, read back the same way (FIFO on the host cores for
    /// an RTOS guest under TCG, where it runs the guest's timers).
    public var emulatorPlacement: VCPUPlacement?
    /// KVM guests: where their screen is (nil for RTOS guests and stopped guests).
    public var display: GuestDisplay?
    /// KVM guests: the disk image, and whether this run boots the installer.
    public var diskImage: String?
    public var installing: Bool
    /// The guest's address on the VMF network (nil: not part of it).
    public var address: String?
    /// Host devices the running guest holds, with their interrupts as the kernel has them now.
    public var devices: [AssignedDevice] = []
    /// RT-Linux: what it boots (`debian`: its own disk, `busybox`: the initramfs).
    public var root: String?
    /// The guest's clock against the host's, as hvd last measured it (nil: not measured).
    public var clock: ClockReading?
    /// QEMU paused the running guest at a failed write (a full disk): why. Nil: not paused.
    public var paused: String?
    public var notes: [String]

    public init(name: String, folder: String, kind: String, os: String, state: GuestState, vcpus: Int, memoryMiB: Int) {
        self.name = name; self.folder = folder; self.kind = kind; self.os = os; self.state = state
        self.vcpus = vcpus; self.memoryMiB = memoryMiB
        pid = nil; cores = []; accelerator = nil; acceleratorReason = nil; startedAt = nil
        bootSeconds = nil; booted = false; schedFIFO = false; consoleHolder = nil; lastStop = nil
        vcpuPlacement = []; emulatorPlacement = nil; display = nil; diskImage = nil; installing = false; address = nil; notes = []
    }
}

/// A guest's clock as hvd measured it over the VMF network (NTP: the host asks, the guest's chrony answers).
public struct ClockReading: Sendable, Codable, Equatable {
    /// Guest clock minus host clock, in seconds.
    public var offsetSeconds: Double
    /// The round trip of the measurement: the offset is known to within half of it.
    public var delaySeconds: Double
    public var measuredAt: String
    public init(offsetSeconds: Double, delaySeconds: Double, measuredAt: String) {
        self.offsetSeconds = offsetSeconds; self.delaySeconds = delaySeconds; self.measuredAt = measuredAt
    }
}

/// A KVM guest's screen: VNC on a Unix socket (root only) and a VNC WebSocket on loopback.
public struct GuestDisplay: Sendable, Codable, Equatable {
    public var vncSocket: String
    public var webSocketPort: Int
    /// QEMU's own WebSocket, only when the guest configures a port (0: none).
    public var webSocketURL: String? { webSocketPort > 0 ? "ws://127.0.0.1:\(webSocketPort)" : nil }
    public init(vncSocket: String, webSocketPort: Int) { self.vncSocket = vncSocket; self.webSocketPort = webSocketPort }
}

public struct ScreenshotResult: Sendable, Codable, Equatable {
    /// Where hvd left the PNG (run/<guest>/screen.png); the client copies it away.
    public var path: String
    public var width: Int
    public var height: Int
    public init(path: String, width: Int, height: Int) { self.path = path; self.width = width; self.height = height }
}

/// A host device a running guest holds (VFIO PCI, or USB).
public struct AssignedDevice: Sendable, Codable, Equatable {
    /// "0000:03:00.0", or a USB device "usb 046d:c52b" / "usb 1-2".
    public var device: String
    /// The host driver bound now ("vfio-pci" while the guest has it; nil for USB).
    public var driver: String?
    public var interrupts: [DeviceInterrupt]
    public init(device: String, driver: String?, interrupts: [DeviceInterrupt]) {
        self.device = device; self.driver = driver; self.interrupts = interrupts
    }
}

/// One host interrupt of an assigned device: its cores and the thread serving it.
public struct DeviceInterrupt: Sendable, Codable, Equatable {
    public var irq: Int
    public var cores: [Int]
    /// nil: not threaded (a kernel without PREEMPT_RT or threadirqs).
    public var thread: VCPUPlacement?
    public init(irq: Int, cores: [Int], thread: VCPUPlacement?) { self.irq = irq; self.cores = cores; self.thread = thread }
}

public struct VCPUPlacement: Sendable, Codable, Equatable {
    public var thread: Int
    public var cores: [Int]
    /// "fifo", "rr", "other", ...
    public var policy: String
    public var priority: Int
    public init(thread: Int, cores: [Int], policy: String, priority: Int) {
        self.thread = thread; self.cores = cores; self.policy = policy; self.priority = priority
    }
}

public struct VMFStatus: Sendable, Codable, Equatable {
    public var loaded: Bool
    public var config: String?
    public var loadedAt: String?
    /// Reserved cores by guest folder.
    public var reservedCores: [String: [Int]]
    public var notes: [String]
    public var daemonPid: Int
    /// The host's online CPUs (the System Manager draws one box per core).
    public var cpuCount: Int
    /// How the RT cores are kept from the host while loaded (nil when nothing is reserved).
    public var partition: VMFPartition?

    public init(loaded: Bool, config: String?, loadedAt: String?, reservedCores: [String: [Int]], notes: [String], daemonPid: Int,
                cpuCount: Int, partition: VMFPartition? = nil) {
        self.loaded = loaded; self.config = config; self.loadedAt = loadedAt
        self.reservedCores = reservedCores; self.notes = notes; self.daemonPid = daemonPid; self.cpuCount = cpuCount
        self.partition = partition
    }
}

/// How the RT cores are kept from the host while the VMF is loaded.
public enum PartitionMode: String, Sendable, Codable, CaseIterable {
    /// cgroup v1: a host cpuset and an RT cpuset, every task moved.
    case cpusetV1 = "cpuset-v1"
    /// cgroup v2: an isolated partition the kernel takes out of every other cgroup.
    case cpusetV2 = "cpuset-v2"
    /// No cpuset: thread affinity, SCHED_FIFO and interrupt affinity only.
    case none
}

/// The partition hv_vmf_start set up, from its own record.
public struct VMFPartition: Sendable, Codable, Equatable {
    public var mode: PartitionMode
    public var rtCores: [Int]
    /// The cgroup holding the RT cores ("" with mode none).
    public var group: String
    public var interruptsMoved: Int

    public init(mode: PartitionMode, rtCores: [Int], group: String, interruptsMoved: Int) {
        self.mode = mode; self.rtCores = rtCores; self.group = group; self.interruptsMoved = interruptsMoved
    }

    /// One line for people: how the cores are kept.
    public var summary: String {
        let cores = "core\(rtCores.count == 1 ? "" : "s") \(rtCores.map(String.init).joined(separator: ","))"
        let how: String = switch mode {
        case .cpusetV2: "taken from the host as an isolated cgroup v2 partition (\(group))"
        case .cpusetV1: "taken from the host with cgroup v1 cpusets (\(group))"
        case .none: "kept by thread affinity and SCHED_FIFO only (no cpuset; see the notes)"
        }
        return "\(cores) \(how); \(interruptsMoved) interrupt\(interruptsMoved == 1 ? "" : "s") moved off"
    }
}

public struct APIErrorBody: Sendable, Codable, Equatable {
    public var code: HVError.Code
    public var message: String
    public var hint: String?
    /// The form field it concerns (guest creation).
    public var field: String?
    public init(_ e: HVError) { code = e.code; message = e.message; hint = e.hint; field = e.field }
    public var error: HVError { HVError(code, message, hint: hint, field: field) }
}

public struct VMFLoadRequest: Sendable, Codable { public var config: String; public init(config: String) { self.config = config } }
public struct VMFUnloadRequest: Sendable, Codable {
    /// Stop running RTOS guests first; without it, running RTOS guests make the unload fail.
    public var stopGuests: Bool
    public init(stopGuests: Bool) { self.stopGuests = stopGuests }
}
public struct StartRequest: Sendable, Codable {
    /// Answer only when the guest is up (its ready line, or QEMU running for images without one).
    public var wait: Bool
    public var timeoutSeconds: Double
    /// false: no reserved core, no SCHED_FIFO, no locked memory (a baseline for `hv rt bench --compare`).
    public var placement: Bool?
    public init(wait: Bool, timeoutSeconds: Double = 180, placement: Bool? = nil) {
        self.wait = wait; self.timeoutSeconds = timeoutSeconds; self.placement = placement
    }
}
public struct StopRequest: Sendable, Codable {
    public var force: Bool
    public init(force: Bool) { self.force = force }
}
/// The answer to start, stop and restart.
public struct ActionResult: Sendable, Codable {
    public var message: String
    public var guest: GuestStatus
    public init(message: String, guest: GuestStatus) { self.message = message; self.guest = guest }
}

/// What the System Manager's live stream sends on each change.
public struct ManagerSnapshot: Sendable, Codable, Equatable {
    public var guests: [GuestStatus]
    public var vmf: VMFStatus
    public var host: HostInfo
    /// hv.config's RtCores per RTOS guest ("auto" or core numbers): what the CPU tab edits.
    public var rtCores: [String: String]
    public init(guests: [GuestStatus], vmf: VMFStatus, host: HostInfo, rtCores: [String: String]) {
        self.guests = guests; self.vmf = vmf; self.host = host; self.rtCores = rtCores
    }
}

/// Where the System Manager is (`GET /v1/manager`).
public struct ManagerInfo: Sendable, Codable, Equatable {
    public var port: Int
    public var url: String
    public init(port: Int, url: String) { self.port = port; self.url = url }
}

/// A single-use address for the System Manager (`hv manager url`): the code
/// rides in the fragment, which browsers never send, and is worth the token
/// once, for `expiresInSeconds`.
public struct ManagerLoginCode: Sendable, Codable, Equatable {
    public var code: String
    public var url: String
    public var expiresInSeconds: Int
    public init(code: String, url: String, expiresInSeconds: Int) { self.code = code; self.url = url; self.expiresInSeconds = expiresInSeconds }
}

public struct ManagerLoginRequest: Sendable, Codable, Equatable {
    public var code: String
    public init(code: String) { self.code = code }
}

public struct ManagerLoginResponse: Sendable, Codable, Equatable {
    public var token: String
    public init(token: String) { self.token = token }
}

/// `credential`: "manager" (the token of the page and the API) or "metrics" (GET /v1/metrics only).
public struct ManagerRotateRequest: Sendable, Codable, Equatable {
    public var credential: String
    public init(credential: String) { self.credential = credential }
}

public enum APIJSON {
    public static func encodeCompact<T: Encodable>(_ v: T) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(v)) ?? Data("{}".utf8)
    }

    public static func encode<T: Encodable>(_ v: T) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? e.encode(v)) ?? Data("{}".utf8)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw HVError(.invalidArgument, "bad request body: \(error)")
        }
    }
}

/// The communication subsystem as `GET /v1/comm` shows it.
public struct CommStatus: Sendable, Codable, Equatable {
    public struct Member: Sendable, Codable, Equatable {
        public var folder: String; public var address: String; public var mac: String
        public init(folder: String, address: String, mac: String) { self.folder = folder; self.address = address; self.mac = mac }
    }
    public struct Region: Sendable, Codable, Equatable {
        public var name: String; public var sizeKiB: Int; public var path: String; public var guests: [String]
        public init(name: String, sizeKiB: Int, path: String, guests: [String]) {
            self.name = name; self.sizeKiB = sizeKiB; self.path = path; self.guests = guests
        }
    }
    public struct Event: Sendable, Codable, Equatable {
        public var name: String; public var guests: [String]; public var count: UInt64
        public init(name: String, guests: [String], count: UInt64) { self.name = name; self.guests = guests; self.count = count }
    }
    public var subnet: String
    public var hostAddress: String
    public var mode: String
    public var bridgeInterface: String?
    public var hostAttached: Bool
    /// The network namespace the host's interface lives in (`ip netns exec NAME …`).
    public var namespace: String
    public var members: [Member]
    public var regions: [Region]
    public var events: [Event]
    public init(subnet: String, hostAddress: String, mode: String, bridgeInterface: String?, hostAttached: Bool, namespace: String,
                members: [Member], regions: [Region], events: [Event]) {
        self.subnet = subnet; self.hostAddress = hostAddress; self.mode = mode; self.bridgeInterface = bridgeInterface
        self.hostAttached = hostAttached; self.namespace = namespace; self.members = members; self.regions = regions; self.events = events
    }
}

public struct EventRequest: Sendable, Codable {
    public var timeoutSeconds: Double?
    /// wait: return once the counter is above this (default: its value when the request arrives).
    public var after: UInt64?
    public init(timeoutSeconds: Double? = nil, after: UInt64? = nil) { self.timeoutSeconds = timeoutSeconds; self.after = after }
}

public struct EventResult: Sendable, Codable, Equatable {
    public var name: String
    public var count: UInt64
    public init(name: String, count: UInt64) { self.name = name; self.count = count }
}

public struct DeleteRequest: Sendable, Codable {
    /// Must be true: the caller showed the user the deletion plan and got a yes.
    public var confirm: Bool
    public init(confirm: Bool) { self.confirm = confirm }
}

public struct DeleteResult: Sendable, Codable, Equatable {
    public var message: String
    public var backup: String
    public init(message: String, backup: String) { self.message = message; self.backup = backup }
}

/// One thing that happened to a guest, the VMF or hvd (`hv events`, GET /v1/lifecycle).
public struct LifecycleEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case daemonStarted = "daemon-started", vmfLoaded = "vmf-loaded", vmfUnloaded = "vmf-unloaded"
        case started, booted, stopped, crashed, stalled, adopted
        case restarting, restartLimit = "restart-limit", watchdog, heartbeatMissed = "heartbeat-missed"
        /// One of hvd's records (run/*.json) could not be read: kept aside, named in the detail.
        case recordDamaged = "record-damaged"
        /// QEMU paused a guest at a failed write (its disk's file system full), and it ran again.
        case paused, resumed
        /// `hv guest snapshot`: a snapshot taken, reverted to, deleted.
        case snapshotTaken = "snapshot-taken", snapshotReverted = "snapshot-reverted", snapshotDeleted = "snapshot-deleted"
        /// `hv guest backup` and `hv guest restore`.
        case backupWritten = "backup-written", restored
    }
    /// Increases by one per event within one hvd (`daemon`).
    public var seq: Int
    public var time: String
    public var kind: Kind
    /// The guest's folder name; nil for the VMF and hvd.
    public var guest: String?
    public var detail: String

    public init(seq: Int, time: String, kind: Kind, guest: String?, detail: String) {
        self.seq = seq; self.time = time; self.kind = kind; self.guest = guest; self.detail = detail
    }
}

/// GET /v1/lifecycle?after=N&wait=S: the events after N (waiting up to S
/// seconds for one). `daemon` changes when hvd restarts; its sequence starts again.
public struct LifecycleEvents: Sendable, Codable, Equatable {
    public var daemon: String
    public var events: [LifecycleEvent]
    public init(daemon: String, events: [LifecycleEvent]) { self.daemon = daemon; self.events = events }
}

/// POST /v1/host/reset (hv_resethv).
/// hv_brdelall: what went (hv's own bridges and TAPs only).
public struct BridgeRemoval: Sendable, Codable, Equatable {
    public var removed: [String]
    public var message: String
    public init(removed: [String], message: String) { self.removed = removed; self.message = message }
}

public struct ResetResult: Sendable, Codable, Equatable {
    /// The backup folder holding the old config/ and projects/ (nil: nothing to reset).
    public var backup: String?
    public var message: String
    public init(backup: String?, message: String) { self.backup = backup; self.message = message }
}

/// The last `hv rt bench` of a guest, written by the CLI (root) into the
/// guest folder as rt-bench.json; hvd shows it in its metrics.
public struct RTBenchSummary: Sendable, Codable, Equatable {
    public var endedAt: Double
    public var durationSeconds: Int
    public var samples: Int
    public var minMicroseconds: Int
    public var avgMicroseconds: Int
    public var maxMicroseconds: Int
    public var overflows: Int
    public init(endedAt: Double, durationSeconds: Int, samples: Int, minMicroseconds: Int, avgMicroseconds: Int, maxMicroseconds: Int, overflows: Int) {
        self.endedAt = endedAt; self.durationSeconds = durationSeconds; self.samples = samples
        self.minMicroseconds = minMicroseconds; self.avgMicroseconds = avgMicroseconds; self.maxMicroseconds = maxMicroseconds; self.overflows = overflows
    }

    public static func file(in folder: GuestFolder) -> URL { folder.url.appendingPathComponent("rt-bench.json") }

    /// Only a file root wrote and nobody else can change (TrustedFile), at most 64 KiB.
    public static func read(from folder: GuestFolder) -> RTBenchSummary? {
        let url = file(in: folder)
        guard FileManager.default.fileExists(atPath: url.path), let data = try? TrustedFile.readConfig(url), data.count <= 65_536 else { return nil }
        return try? JSONDecoder().decode(RTBenchSummary.self, from: data)
    }
}
