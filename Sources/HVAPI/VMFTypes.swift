import Foundation
import HVCore

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

    public init(
        loaded: Bool, config: String?, loadedAt: String?, reservedCores: [String: [Int]], notes: [String], daemonPid: Int,
        cpuCount: Int, partition: VMFPartition? = nil
    ) {
        self.loaded = loaded
        self.config = config
        self.loadedAt = loadedAt
        self.reservedCores = reservedCores
        self.notes = notes
        self.daemonPid = daemonPid
        self.cpuCount = cpuCount
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
        self.mode = mode
        self.rtCores = rtCores
        self.group = group
        self.interruptsMoved = interruptsMoved
    }

    /// One line for people: how the cores are kept.
    public var summary: String {
        let cores = "core\(rtCores.count == 1 ? "" : "s") \(rtCores.map(String.init).joined(separator: ","))"
        let how: String =
            switch mode {
            case .cpusetV2: "taken from the host as an isolated cgroup v2 partition (\(group))"
            case .cpusetV1: "taken from the host with cgroup v1 cpusets (\(group))"
            case .none: "kept by thread affinity and SCHED_FIFO only (no cpuset; see the notes)"
            }
        return "\(cores) \(how); \(interruptsMoved) interrupt\(interruptsMoved == 1 ? "" : "s") moved off"
    }
}

public struct VMFLoadRequest: Sendable, Codable {
    /// The hypervisor configuration's path ("": config/hv.config, or the one `guest` names).
    public var config: String
    /// A guest folder whose guest_config.sh names the configuration (HV_CONFIG), when `config` is "".
    public var guest: String?
    public init(config: String, guest: String? = nil) {
        self.config = config
        self.guest = guest
    }
}

public struct VMFUnloadRequest: Sendable, Codable {
    /// Stop running RTOS guests first; without it, running RTOS guests make the unload fail.
    public var stopGuests: Bool
    public init(stopGuests: Bool) { self.stopGuests = stopGuests }
}

/// POST /v1/host/reset (hv_resethv).
/// hv_brdelall: what went (hv's own bridges and TAPs only).
public struct BridgeRemoval: Sendable, Codable, Equatable {
    public var removed: [String]
    public var message: String
    public init(removed: [String], message: String) {
        self.removed = removed
        self.message = message
    }
}
