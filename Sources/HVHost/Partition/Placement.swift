import CHVSys
import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Puts a guest's QEMU threads on their cores: every thread on the host's
/// cores, then the vCPU threads of an RTOS guest on its reserved cores with
/// SCHED_FIFO. What the host refuses is reported, never silently skipped.
public enum Placement {
    public struct Outcome: Sendable, Equatable, Codable {
        public var cores: [Int]
        public var vcpuThreads: [Int]
        public var schedFIFO: Bool
        public var notes: [String]
        public init(cores: [Int], vcpuThreads: [Int], schedFIFO: Bool, notes: [String]) {
            self.cores = cores
            self.vcpuThreads = vcpuThreads
            self.schedFIFO = schedFIFO
            self.notes = notes
        }
    }

    public static func threads(of pid: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { pid_t($0) }
    }

    public static func setAffinity(_ tid: pid_t, cores: [Int]) -> Int32 {
        let c = cores.map(Int32.init)
        return hv_pin_thread(tid, c, Int32(c.count))
    }

    /// The cores a thread may run on.
    public static func affinity(_ tid: pid_t) -> [Int] {
        var buf = [Int32](repeating: 0, count: 1024)
        let n = hv_thread_affinity(tid, &buf, 1024)
        return n > 0 ? buf[0..<Int(n)].map(Int.init) : []
    }

    /// Where a thread really is, read back from the kernel.
    public static func observe(_ tid: pid_t) -> VCPUPlacement? {
        let policy = hv_sched_policy(tid)
        guard policy >= 0 else { return nil }
        let name: String =
            switch policy {
            case SCHED_FIFO: "fifo"
            case SCHED_RR: "rr"
            case SCHED_OTHER: "other"
            case 3: "batch"  // SCHED_BATCH (GNU)
            case 5: "idle"  // SCHED_IDLE (GNU)
            default: "policy \(policy)"
            }
        return VCPUPlacement(thread: Int(tid), cores: affinity(tid), policy: name, priority: Int(hv_sched_priority(tid)))
    }

    /// `emulatorPriority` > 0 also makes QEMU's main thread SCHED_FIFO on the
    /// host cores. Under TCG that thread runs the guest's timers and holds
    /// QEMU's big lock, which the vCPU needs for every device access: left
    /// SCHED_OTHER, a busy host preempts it while it holds the lock and the
    /// FIFO vCPU waits behind it (priority inversion), for milliseconds.
    /// Only the main thread: making QEMU's other threads (RCU, monitor,
    /// workers) FIFO as well measured worse (bench/rt, p99 1.4–6 ms vs ~0.35).
    public static func place(
        pid: pid_t, vcpuThreads: [pid_t], reserved: [Int], hostCores: [Int],
        priority: Int, emulatorPriority: Int = 0
    ) -> Outcome {
        var notes: [String] = []
        if !hostCores.isEmpty {
            for tid in threads(of: pid) where !vcpuThreads.contains(tid) {
                let e = setAffinity(tid, cores: hostCores)
                if e != 0 {
                    notes.append("could not keep QEMU thread \(tid) on the host cores: \(String(cString: strerror(e)))")
                    break
                }
            }
        }
        guard !reserved.isEmpty else {
            notes.append("no core reserved: the guest shares the host's cores")
            return Outcome(cores: [], vcpuThreads: vcpuThreads.map(Int.init), schedFIFO: false, notes: notes)
        }
        for (i, tid) in vcpuThreads.enumerated() {
            let core = reserved[i % reserved.count]
            let e = setAffinity(tid, cores: [core])
            if e != 0 { notes.append("could not pin vCPU thread \(tid) to core \(core): \(String(cString: strerror(e)))") }
        }
        if emulatorPriority > 0 {
            let e = hv_set_fifo(pid, Int32(emulatorPriority))
            if e != 0 {
                notes.append(
                    "SCHED_FIFO not permitted for QEMU's main thread (\(String(cString: strerror(e)))): under TCG a busy host delays the guest's timers")
            }
        }
        var fifo = false
        if priority > 0 {
            fifo = true
            for tid in vcpuThreads {
                let e = hv_set_fifo(tid, Int32(priority))
                if e != 0 {
                    notes.append("SCHED_FIFO not permitted here (\(String(cString: strerror(e)))): vCPU threads run SCHED_OTHER")
                    fifo = false
                    break
                }
            }
        }
        return Outcome(cores: reserved, vcpuThreads: vcpuThreads.map(Int.init), schedFIFO: fifo, notes: notes)
    }
}
