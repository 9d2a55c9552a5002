import Foundation
import HVAPI
import HVCore

/// Takes the RT cores away from everything else while the VMF is loaded, with
/// whichever cpuset interface the host has: cgroup v1 (host and RT cpusets,
/// every task moved) or cgroup v2 (an isolated partition, which the kernel
/// takes out of every other cgroup). The RTOS guests' vCPU threads are
/// admitted to the RT group and interrupts are steered to the host cores.
/// Unloading puts everything back. What the host refuses is returned as
/// notes, never skipped silently.
public struct CPUPartition: Sendable {
    public struct State: Codable, Sendable, Equatable {
        public var mode: PartitionMode
        public var hostGroup: String
        public var rtGroup: String
        public var rtCores: [Int]
        public var hostCores: [Int]
        /// IRQ number → its affinity list before hv changed it.
        public var irqs: [String: String]
        /// cgroup v2: the root hv worked under, and whether hv enabled the
        /// cpuset controller there (and so disables it again).
        public var cgroup2Root: String?
        public var enabledCpusetController: Bool?
    }

    public let cpusetRoot: String
    /// Where a cgroup v2 hierarchy may be mounted: pure v2 first, then the hybrid layout.
    public let cgroup2Roots: [String]
    public let procRoot: String
    public let stateFile: URL

    /// Where a cgroup v1 cpuset hierarchy is mounted.
    public static let cgroup1CpusetMount = "/sys/fs/cgroup/cpuset"
    /// Pure cgroup v2 first, then the hybrid layout's v2 mount.
    public static let cgroup2Mounts = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]

    public init(
        stateFile: URL, cpusetRoot: String = CPUPartition.cgroup1CpusetMount,
        cgroup2Roots: [String] = CPUPartition.cgroup2Mounts, procRoot: String = "/proc"
    ) {
        self.stateFile = stateFile
        self.cpusetRoot = cpusetRoot
        self.cgroup2Roots = cgroup2Roots
        self.procRoot = procRoot
    }

    public var current: State? {
        record.value
    }

    var record: RecordFile<State> { RecordFile(stateFile, what: "the CPU partition hv made") }

    /// Group names are per host root, so two hv roots on one machine do not collide.
    static func groupName(for stateFile: URL) -> String {
        var h: UInt32 = 2166136261
        for b in stateFile.path.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
        return "hv-" + String(h, radix: 16)
    }

    /// The cgroup v2 root whose controllers include cpuset (nil when the
    /// controller is bound to v1 or missing).
    var cgroup2WithCpuset: String? { Self.cgroup2WithCpuset(in: cgroup2Roots, sys: SysFS()) }

    public static func cgroup2WithCpuset(in roots: [String], sys: SysFS) -> String? {
        roots.first { (sys.text($0 + "/cgroup.controllers") ?? "").split(separator: " ").contains("cpuset") }
    }

    public func apply(rtCores: [Int], hostCores: [Int]) -> [String] {
        var notes: [String] = []
        if current != nil { notes += release() }
        guard !rtCores.isEmpty else { return notes }
        var state = State(mode: .none, hostGroup: "", rtGroup: "", rtCores: rtCores, hostCores: hostCores, irqs: [:])
        let cores = CPUList.format(Set(rtCores))
        if FileManager.default.fileExists(atPath: cpusetRoot + "/tasks") {
            notes += applyV1(&state)
        } else if let root = cgroup2WithCpuset {
            notes += applyV2(&state, root: root)
        } else {
            let v2 = cgroup2Roots.first { FileManager.default.fileExists(atPath: $0 + "/cgroup.controllers") }
            let missing =
                v2.map { "the cgroup v2 hierarchy at \($0) has no cpuset controller (it is bound to a v1 hierarchy or not built into the kernel)" }
                ?? "no cpuset hierarchy (neither cgroup v1 at \(cpusetRoot) nor cgroup v2)"
            notes.append(missing + ": host processes may still run on core \(cores); the RT guest keeps it by affinity and SCHED_FIFO")
        }
        notes += steerIRQs(&state)
        do { try record.write(state) } catch {
            notes.append("the partition's record could not be written (\((error as? HVError)?.message ?? "\(error)")): a new hvd will not know to undo it")
        }
        return notes
    }

    /// Puts a vCPU thread into the RT group (before it is pinned).
    public func admit(thread: Int32) -> String? { admit(threads: [thread]).first }

    /// Moves a guest's vCPU threads into the RT partition, all of one
    /// process at once (under cgroup v2 the process is first moved to the
    /// threaded root, which takes all its threads along: done once, or each
    /// thread would undo the one before). Returns what was refused.
    public func admit(threads: [Int32]) -> [String] {
        guard let s = current, !threads.isEmpty else { return [] }
        switch s.mode {
        case .cpusetV1:
            return threads.compactMap { thread in
                do {
                    try write(s.rtGroup + "/tasks", String(thread))
                    return nil
                } catch {
                    return "could not move vCPU thread \(thread) into the RT cpuset: \(error)"
                }
            }
        case .cpusetV2:
            return admitV2(threads: threads, state: s)
        case .none: return []
        }
    }

    public func release() -> [String] {
        guard let s = current else { return [] }
        var notes: [String] = []
        switch s.mode {
        case .cpusetV1: notes += releaseV1(s)
        case .cpusetV2: notes += releaseV2(s)
        case .none: break
        }
        for (irq, old) in s.irqs { try? write("\(procRoot)/irq/\(irq)/smp_affinity_list", old) }
        try? FileManager.default.removeItem(at: stateFile)
        return notes
    }

    func steerIRQs(_ state: inout State) -> [String] {
        var refused = 0
        for irq in list(procRoot + "/irq") where irq.allSatisfy(\.isNumber) {
            let path = "\(procRoot)/irq/\(irq)/smp_affinity_list"
            guard let old = read(path), let set = CPUList.parse(old), !set.isDisjoint(with: state.rtCores) else { continue }
            let wanted = set.subtracting(state.rtCores).isEmpty ? Set(state.hostCores) : set.subtracting(state.rtCores)
            if (try? write(path, CPUList.format(wanted))) != nil { state.irqs[irq] = old } else { refused += 1 }
        }
        guard refused > 0 else { return [] }
        return ["\(refused) interrupt\(refused == 1 ? "" : "s") could not be moved off core \(CPUList.format(Set(state.rtCores))) (the host refused)"]
    }

    func read(_ path: String) -> String? { SysFS().text(path) }
    func list(_ path: String) -> [String] { SysFS().entries(path) }

    /// One write(2) of the whole value, as cgroup and /proc files want.
    func write(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix(path, errno: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw HVError.posix(path, errno: errno) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
