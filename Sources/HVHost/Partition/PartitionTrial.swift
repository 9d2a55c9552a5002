import CHVSys
import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// `hv rt try-partition`: sets up the VMF's core partition for a moment on
/// this host's own kernel, checks what the kernel made of it, and gives
/// everything back. It answers "will hv_vmf_start's partition hold here?"
/// before an RT guest depends on it, and it is how hv's cgroup v1 and v2
/// paths are tested against real kernels rather than a stand-in tree.
public struct PartitionTrial {
    public struct Check: Codable, Sendable, Equatable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    public struct Report: Codable, Sendable {
        public var kernel: String
        /// As `CPUPartition` chose it.
        public var mode: PartitionMode
        public var rtCores: [Int]
        public var hostCores: [Int]
        /// What the partition reported while being set up and released.
        public var notes: [String]
        public var checks: [Check]
        public var passed: Bool
    }

    public let partition: CPUPartition
    public init(partition: CPUPartition) { self.partition = partition }

    /// `priority`: the SCHED_FIFO priority of the stand-in vCPU thread (it
    /// sleeps half the time, so it disturbs nothing on the RT core).
    public func run(rtCores: [Int], hostCores: [Int], priority: Int = 1) -> Report {
        var notes: [String] = []
        if partition.current != nil {
            notes.append("an earlier trial was interrupted before it gave the cores back: released what it left")
            notes += partition.release()
        }
        let before = Snapshot.take(partition)
        let ownThreads = Placement.threads(of: getpid()).map { ($0, Placement.affinity($0)) }
        notes += partition.apply(rtCores: rtCores, hostCores: hostCores)
        let state = partition.current
        var checks = [accepted(state, rtCores: rtCores), hostProcessKeptOff(rtCores: rtCores), interruptsMoved(state)]
        checks.append(standInVCPU(rtCores: rtCores, hostCores: hostCores, priority: priority, notes: &notes))
        notes += partition.release()
        // Placing the stand-in kept this process's other threads on the host cores; as they were.
        for (tid, cores) in ownThreads where !cores.isEmpty { _ = Placement.setAffinity(tid, cores: cores) }
        checks.append(givenBack(state, before: before))
        let kernel = SysFS().text("/proc/sys/kernel/osrelease") ?? "unknown"
        return Report(
            kernel: kernel, mode: state?.mode ?? .none, rtCores: rtCores, hostCores: hostCores,
            notes: notes, checks: checks, passed: checks.allSatisfy(\.ok))
    }

    func accepted(_ state: CPUPartition.State?, rtCores: [Int]) -> Check {
        let name = "partition"
        let rt = Self.list(rtCores)
        guard let state else { return Check(name: name, ok: false, detail: "hv could not record the partition") }
        switch state.mode {
        case .cpusetV1:
            let rtHas = partition.read(state.rtGroup + "/cpuset.cpus").flatMap(CPUList.parse)
            let hostHas = partition.read(state.hostGroup + "/cpuset.cpus").flatMap(CPUList.parse)
            let ok = rtHas == Set(rtCores) && hostHas == Set(state.hostCores)
            return Check(
                name: name, ok: ok,
                detail: "cgroup v1: cpuset \(state.rtGroup) holds core \(Self.list(rtHas)), "
                    + "\(state.hostGroup) holds \(Self.list(hostHas)) and every task that may move")
        case .cpusetV2:
            let kind = partition.read(state.rtGroup + "/cpuset.cpus.partition") ?? "unreadable"
            let rootKeeps = state.cgroup2Root.flatMap { partition.read($0 + "/cpuset.cpus.effective") }.flatMap(CPUList.parse)
            let ok = (kind == "isolated" || kind == "root") && rootKeeps.map { $0.isDisjoint(with: rtCores) && !$0.isEmpty } == true
            return Check(
                name: name, ok: ok,
                detail: "cgroup v2: \(state.rtGroup) is a partition of type \"\(kind)\" on core \(rt); "
                    + "the root cgroup keeps \(Self.list(rootKeeps))")
        case .none:
            return Check(name: name, ok: false, detail: "no cpuset hierarchy hv can use on this host (see the notes): core \(rt) stays shared")
        }
    }

    /// A process the host starts now may not run on the RT cores, and the
    /// kernel refuses to move it there.
    func hostProcessKeptOff(rtCores: [Int]) -> Check {
        let name = "host-process"
        guard let child = try? BusyChild() else { return Check(name: name, ok: false, detail: "could not start a test process (/bin/sh)") }
        defer { child.stop() }
        let allowed = Set(Placement.affinity(child.pid))
        var ran = Set<Int>()
        for _ in 0..<10 {
            if let cpu = Self.lastCPU("/proc/\(child.pid)/stat") { ran.insert(cpu) }
            usleep(30_000)
        }
        let e = Placement.setAffinity(child.pid, cores: rtCores)
        let ok = !allowed.isEmpty && allowed.isDisjoint(with: rtCores) && ran.isDisjoint(with: rtCores) && e != 0
        let answer = e != 0 ? "refused (\(String(cString: strerror(e))))" : "granted"
        return Check(
            name: name, ok: ok,
            detail: "a busy process started now may run on \(Self.list(allowed)) and ran on \(Self.list(ran)); "
                + "asking the kernel to move it to core \(Self.list(rtCores)) was \(answer)")
    }

    /// Every interrupt hv moved is off the RT cores now; refusals are in the notes.
    func interruptsMoved(_ state: CPUPartition.State?) -> Check {
        let moved = state?.irqs.keys.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) } ?? []
        let still = moved.filter { irq in
            let now = partition.read("\(partition.procRoot)/irq/\(irq)/smp_affinity_list").flatMap(CPUList.parse) ?? []
            return !now.isDisjoint(with: state?.rtCores ?? [])
        }
        let detail =
            moved.isEmpty
            ? "no interrupt needed moving (or the host refused; see the notes)"
            : "\(moved.count) moved off the RT cores (IRQ \(moved.joined(separator: " ")))"
                + (still.isEmpty ? "" : "; still there: IRQ \(still.joined(separator: " "))")
        return Check(name: "interrupts", ok: still.isEmpty, detail: detail)
    }

    /// A thread of this process is admitted and placed exactly as a vCPU
    /// thread is (`CPUPartition.admit`, then `Placement.place`) and read back.
    func standInVCPU(rtCores: [Int], hostCores: [Int], priority: Int, notes: inout [String]) -> Check {
        let name = "vcpu-thread"
        let standIn = StandInThread()
        defer { standIn.stop() }
        guard let tid = standIn.tid else { return Check(name: name, ok: false, detail: "the stand-in thread did not start") }
        let refused = partition.admit(thread: tid)
        let outcome = Placement.place(pid: getpid(), vcpuThreads: [tid], reserved: rtCores, hostCores: hostCores, priority: priority)
        notes += [refused].compactMap { $0 } + outcome.notes
        usleep(200_000)
        let seen = Placement.observe(tid)
        let last = Self.lastCPU("/proc/\(getpid())/task/\(tid)/stat")
        let cores = Set(seen?.cores ?? [])
        let ok =
            refused == nil && !cores.isEmpty && cores.isSubset(of: rtCores) && seen?.policy == "fifo"
            && last.map { rtCores.contains($0) } == true
        return Check(
            name: name, ok: ok,
            detail: "a thread placed like a vCPU may run on \(Self.list(cores)), \(seen?.policy ?? "unknown policy") "
                + "\(seen?.priority ?? 0), last ran on \(last.map(String.init) ?? "unknown")")
    }

    /// After release the host is as before: new processes may use every core
    /// they could, hv's groups are gone, interrupts and the controller are back.
    func givenBack(_ state: CPUPartition.State?, before: Snapshot) -> Check {
        let after = Snapshot.take(partition)
        var problems: [String] = []
        if after.newProcessCores != before.newProcessCores {
            problems.append("a new process may run on \(Self.list(after.newProcessCores)), before on \(Self.list(before.newProcessCores))")
        }
        for group in [state?.rtGroup, state?.hostGroup].compactMap({ $0 }) where !group.isEmpty && FileManager.default.fileExists(atPath: group) {
            problems.append("\(group) is still there")
        }
        for irq in (state?.irqs.keys).map(Array.init) ?? [] where after.irqs[irq] != before.irqs[irq] {
            problems.append("IRQ \(irq) is on \(after.irqs[irq] ?? "?"), was \(before.irqs[irq] ?? "?")")
        }
        if after.controllers != before.controllers {
            problems.append("cgroup.subtree_control changed: \(after.controllers), was \(before.controllers)")
        }
        if FileManager.default.fileExists(atPath: partition.stateFile.path) { problems.append("\(partition.stateFile.path) is still there") }
        return Check(
            name: "released", ok: problems.isEmpty,
            detail: problems.isEmpty
                ? "a new process may run on \(Self.list(after.newProcessCores)) again; hv's groups are gone, interrupts and controllers as before"
                : problems.joined(separator: "; "))
    }

    /// What giving the cores back must restore.
    struct Snapshot: Equatable {
        var newProcessCores: Set<Int>
        var irqs: [String: String]
        var controllers: [String: String]

        static func take(_ p: CPUPartition) -> Snapshot {
            var cores = Set<Int>()
            if let child = try? BusyChild() {
                cores = Set(Placement.affinity(child.pid))
                child.stop()
            }
            var irqs: [String: String] = [:]
            for irq in p.list(p.procRoot + "/irq") where irq.allSatisfy(\.isNumber) {
                irqs[irq] = p.read("\(p.procRoot)/irq/\(irq)/smp_affinity_list")
            }
            var controllers: [String: String] = [:]
            for root in p.cgroup2Roots { controllers[root] = p.read(root + "/cgroup.subtree_control") }
            return Snapshot(newProcessCores: cores, irqs: irqs, controllers: controllers)
        }
    }

    static func list(_ cores: Set<Int>?) -> String {
        let s = CPUList.format(cores ?? [])
        return s.isEmpty ? "no core" : s
    }

    static func list(_ cores: [Int]) -> String { list(Set(cores)) }

    /// Field 39 of /proc/…/stat: the CPU the task last ran on.
    static func lastCPU(_ statPath: String) -> Int? {
        guard let fields = ProcStat.fields(path: statPath), fields.count > 36 else { return nil }
        return Int(fields[36])
    }
}
