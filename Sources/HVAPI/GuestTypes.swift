import Foundation
import HVCore

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
    /// `hv rt qualify`: the run under way, or the last this hvd ran (nil: none).
    public var qualification: QualificationProgress?
    public var notes: [String]

    public init(name: String, folder: String, kind: String, os: String, state: GuestState, vcpus: Int, memoryMiB: Int) {
        self.name = name
        self.folder = folder
        self.kind = kind
        self.os = os
        self.state = state
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        pid = nil
        cores = []
        accelerator = nil
        acceleratorReason = nil
        startedAt = nil
        bootSeconds = nil
        booted = false
        schedFIFO = false
        consoleHolder = nil
        lastStop = nil
        vcpuPlacement = []
        emulatorPlacement = nil
        display = nil
        diskImage = nil
        installing = false
        address = nil
        notes = []
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
        self.offsetSeconds = offsetSeconds
        self.delaySeconds = delaySeconds
        self.measuredAt = measuredAt
    }
}

/// A KVM guest's screen: VNC on a Unix socket (root only) and a VNC WebSocket on loopback.
public struct GuestDisplay: Sendable, Codable, Equatable {
    public var vncSocket: String
    public var webSocketPort: Int
    /// QEMU's own WebSocket, only when the guest configures a port (0: none).
    public var webSocketURL: String? { webSocketPort > 0 ? "ws://127.0.0.1:\(webSocketPort)" : nil }
    public init(vncSocket: String, webSocketPort: Int) {
        self.vncSocket = vncSocket
        self.webSocketPort = webSocketPort
    }
}

public struct ScreenshotResult: Sendable, Codable, Equatable {
    /// Where hvd left the PNG (run/<guest>/screen.png); the client copies it away.
    public var path: String
    public var width: Int
    public var height: Int
    public init(path: String, width: Int, height: Int) {
        self.path = path
        self.width = width
        self.height = height
    }
}

/// A host device a running guest holds (VFIO PCI, or USB).
public struct AssignedDevice: Sendable, Codable, Equatable {
    /// "0000:03:00.0", or a USB device "usb 046d:c52b" / "usb 1-2".
    public var device: String
    /// The host driver bound now ("vfio-pci" while the guest has it; nil for USB).
    public var driver: String?
    public var interrupts: [DeviceInterrupt]
    public init(device: String, driver: String?, interrupts: [DeviceInterrupt]) {
        self.device = device
        self.driver = driver
        self.interrupts = interrupts
    }
}

/// One host interrupt of an assigned device: its cores and the thread serving it.
public struct DeviceInterrupt: Sendable, Codable, Equatable {
    public var irq: Int
    public var cores: [Int]
    /// nil: not threaded (a kernel without PREEMPT_RT or threadirqs).
    public var thread: VCPUPlacement?
    public init(irq: Int, cores: [Int], thread: VCPUPlacement?) {
        self.irq = irq
        self.cores = cores
        self.thread = thread
    }
}

public struct VCPUPlacement: Sendable, Codable, Equatable {
    public var thread: Int
    public var cores: [Int]
    /// "fifo", "rr", "other", ...
    public var policy: String
    public var priority: Int
    public init(thread: Int, cores: [Int], policy: String, priority: Int) {
        self.thread = thread
        self.cores = cores
        self.policy = policy
        self.priority = priority
    }
}

public struct StartRequest: Sendable, Codable {
    /// Answer only when the guest is up (its ready line, or QEMU running for images without one).
    public var wait: Bool
    public var timeoutSeconds: Double
    /// false: no reserved core, no SCHED_FIFO, no locked memory (a baseline for `hv rt bench --compare`).
    public var placement: Bool?
    public init(wait: Bool, timeoutSeconds: Double = 180, placement: Bool? = nil) {
        self.wait = wait
        self.timeoutSeconds = timeoutSeconds
        self.placement = placement
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
    public init(message: String, guest: GuestStatus) {
        self.message = message
        self.guest = guest
    }
}

public struct DeleteRequest: Sendable, Codable {
    /// Must be true: the caller showed the user the deletion plan and got a yes.
    public var confirm: Bool
    public init(confirm: Bool) { self.confirm = confirm }
}

public struct DeleteResult: Sendable, Codable, Equatable {
    public var message: String
    public var backup: String
    public init(message: String, backup: String) {
        self.message = message
        self.backup = backup
    }
}

public struct ResetResult: Sendable, Codable, Equatable {
    /// The backup folder holding the old config/ and projects/ (nil: nothing to reset).
    public var backup: String?
    public var message: String
    public init(backup: String?, message: String) {
        self.backup = backup
        self.message = message
    }
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
        self.endedAt = endedAt
        self.durationSeconds = durationSeconds
        self.samples = samples
        self.minMicroseconds = minMicroseconds
        self.avgMicroseconds = avgMicroseconds
        self.maxMicroseconds = maxMicroseconds
        self.overflows = overflows
    }

    public static func file(in folder: GuestFolder) -> URL { folder.url.appendingPathComponent("rt-bench.json") }

    /// Only a file root wrote and nobody else can change (TrustedFile), at most 64 KiB.
    public static func read(from folder: GuestFolder) -> RTBenchSummary? {
        let url = file(in: folder)
        guard FileManager.default.fileExists(atPath: url.path), let data = try? TrustedFile.readConfig(url), data.count <= 65_536 else { return nil }
        return try? JSONDecoder().decode(RTBenchSummary.self, from: data)
    }
}
