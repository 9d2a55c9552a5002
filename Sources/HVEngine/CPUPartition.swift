import Foundation
import HVCore

/// Takes the RT cores away from everything else while the VMF is loaded:
/// every task of the root cpuset moves to a host cpuset without them, the
/// RTOS guests' vCPU threads go to an RT cpuset, and interrupts are steered
/// to the host cores. Unloading puts everything back. What the host refuses
/// is returned as notes, never skipped silently.
public struct CPUPartition: Sendable {
    public struct State: Codable, Sendable, Equatable {
        public var mode: String
        public var hostGroup: String
        public var rtGroup: String
        public var rtCores: [Int]
        public var hostCores: [Int]
        /// IRQ number → its affinity list before hv changed it.
        public var irqs: [String: String]
    }

    public let cpusetRoot: String
    public let procRoot: String
    public let stateFile: URL

    public init(stateFile: URL, cpusetRoot: String = "/sys/fs/cgroup/cpuset", procRoot: String = "/proc") {
        self.stateFile = stateFile
        self.cpusetRoot = cpusetRoot
        self.procRoot = procRoot
    }

    public var current: State? {
        guard let data = try? Data(contentsOf: stateFile) else { return nil }
        return try? JSONDecoder().decode(State.self, from: data)
    }

    /// Group names are per host root, so two hv roots on one machine do not collide.
    static func groupName(for stateFile: URL) -> String {
        var h: UInt32 = 2166136261
        for b in stateFile.path.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
        return "hv-" + String(h, radix: 16)
    }

    public func apply(rtCores: [Int], hostCores: [Int]) -> [String] {
        var notes: [String] = []
        if current != nil { notes += release() }
        guard !rtCores.isEmpty else { return notes }
        let name = Self.groupName(for: stateFile)
        var state = State(mode: "none", hostGroup: "", rtGroup: "", rtCores: rtCores, hostCores: hostCores, irqs: [:])
        if FileManager.default.fileExists(atPath: cpusetRoot + "/tasks") {
            let host = cpusetRoot + "/" + name + "-host", rt = cpusetRoot + "/" + name + "-rt"
            let mems = read(cpusetRoot + "/cpuset.mems") ?? "0"
            do {
                for (dir, cores) in [(host, hostCores), (rt, rtCores)] {
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    try write(dir + "/cpuset.mems", mems)
                    try write(dir + "/cpuset.cpus", CPUList.format(Set(cores)))
                }
                let (moved, refused) = moveTasks(from: cpusetRoot + "/tasks", to: host + "/tasks")
                state.mode = "cpuset-v1"
                state.hostGroup = host
                state.rtGroup = rt
                if refused > 0 { notes.append("\(refused) task\(refused == 1 ? "" : "s") (kernel threads bound to a core) stayed where they were; \(moved) moved off core \(CPUList.format(Set(rtCores)))") }
            } catch {
                notes.append("could not set up cpusets under \(cpusetRoot) (\(error)): the RT cores are kept by thread affinity only")
                try? FileManager.default.removeItem(atPath: host)
                try? FileManager.default.removeItem(atPath: rt)
            }
        } else {
            notes.append("no cgroup v1 cpuset hierarchy at \(cpusetRoot) (cgroup v2 partitions are not supported yet): host processes may still run on core \(CPUList.format(Set(rtCores))); the RT guest keeps it by affinity and SCHED_FIFO")
        }
        var irqRefused = 0
        for irq in list(procRoot + "/irq") where irq.allSatisfy(\.isNumber) {
            let path = "\(procRoot)/irq/\(irq)/smp_affinity_list"
            guard let old = read(path), let set = CPUList.parse(old), !set.isDisjoint(with: rtCores) else { continue }
            let wanted = set.subtracting(rtCores).isEmpty ? Set(hostCores) : set.subtracting(rtCores)
            if (try? write(path, CPUList.format(wanted))) != nil { state.irqs[irq] = old } else { irqRefused += 1 }
        }
        if irqRefused > 0 { notes.append("\(irqRefused) interrupt\(irqRefused == 1 ? "" : "s") could not be moved off core \(CPUList.format(Set(rtCores))) (the host refused)") }
        if let data = try? JSONEncoder().encode(state) { try? AtomicFile.write(data, to: stateFile, mode: 0o600) }
        return notes
    }

    /// Puts a vCPU thread into the RT cpuset (before it is pinned).
    public func admit(thread: Int32) -> String? {
        guard let s = current, s.mode == "cpuset-v1" else { return nil }
        do { try write(s.rtGroup + "/tasks", String(thread)) } catch {
            return "could not move vCPU thread \(thread) into the RT cpuset: \(error)"
        }
        return nil
    }

    public func release() -> [String] {
        guard let s = current else { return [] }
        var notes: [String] = []
        if s.mode == "cpuset-v1" {
            for group in [s.rtGroup, s.hostGroup] where FileManager.default.fileExists(atPath: group) {
                _ = moveTasks(from: group + "/tasks", to: cpusetRoot + "/tasks")
                if rmdir(group) != 0 { notes.append("could not remove \(group): \(String(cString: strerror(errno)))") }
            }
        }
        for (irq, old) in s.irqs { try? write("\(procRoot)/irq/\(irq)/smp_affinity_list", old) }
        try? FileManager.default.removeItem(at: stateFile)
        return notes
    }

    /// Moves every task; `refused` counts those still left behind at the end.
    func moveTasks(from: String, to: String) -> (moved: Int, refused: Int) {
        var moved = 0
        // Tasks that fork while we move them appear on the next pass.
        for _ in 0..<3 {
            let tids = (read(from) ?? "").split(separator: "\n")
            let before = moved
            for tid in tids where (try? write(to, String(tid))) != nil { moved += 1 }
            if moved == before { break }
        }
        return (moved, (read(from) ?? "").split(separator: "\n").count)
    }

    func read(_ path: String) -> String? { SysFS().text(path) }
    func list(_ path: String) -> [String] { SysFS().entries(path) }

    /// One write(2) of the whole value, as cgroup and /proc files want.
    func write(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix(path, errno: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw HVError.posix(path, errno: errno) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
