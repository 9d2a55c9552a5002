import CHVSys
import Foundation
import HVAPI
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// The host interrupts VFIO uses for an assigned device (`vfio-msix[0](ADDR)`,
/// `vfio-msi[…]`, `vfio-intx(ADDR)` in /proc/interrupts). They exist only
/// once the guest's driver enables them, so hvd places them when they
/// appear: their affinity on the guest's RT cores and, on a PREEMPT_RT host,
/// the thread that serves each (`irq/N-vfio-…`) SCHED_FIFO. The thread
/// follows its interrupt's affinity by itself (the kernel forbids setting it).
public struct DeviceInterrupts: Sendable {
    public var sysRoot: String
    public init(sysRoot: String = "") { self.sysRoot = sysRoot }

    /// The interrupt numbers of `address`'s VFIO vectors, from /proc/interrupts text.
    public static func vectors(of address: String, in interrupts: String) -> [Int] {
        interrupts.split(separator: "\n").compactMap { line in
            guard line.contains("vfio"), line.contains("(\(address))") else { return nil }
            let head = line.split(separator: ":", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces) ?? ""
            return Int(head)
        }
    }

    /// Each device's vectors, from one read of /proc/interrupts.
    public func vectors(of addresses: [String]) -> [(address: String, irqs: [Int])] {
        let text = SysFS(root: sysRoot).text("/proc/interrupts") ?? ""
        return addresses.map { ($0, Self.vectors(of: $0, in: text)) }
    }

    /// The kernel threads serving interrupts (named "irq/N-…"), by interrupt
    /// number: one look through /proc for all of them.
    public func threads() -> [Int: pid_t] {
        let sys = SysFS(root: sysRoot)
        var out: [Int: pid_t] = [:]
        for entry in sys.entries("/proc") {
            guard let pid = pid_t(entry), let comm = sys.text("/proc/\(entry)/comm"), comm.hasPrefix("irq/"),
                let n = Int(comm.dropFirst(4).prefix { $0.isNumber }), isKernelThread(pid)
            else { continue }
            // A shared line's second handler ("irq/N-s-…") starts later: the first found serves.
            if out[n] == nil || pid < out[n] ?? pid { out[n] = pid }
        }
        return out
    }

    /// Whether `tid` is still the thread of interrupt `irq` (two small reads).
    func serves(_ tid: pid_t, _ irq: Int) -> Bool {
        SysFS(root: sysRoot).text("/proc/\(tid)/comm")?.hasPrefix("irq/\(irq)-") == true && isKernelThread(tid)
    }

    /// PF_KTHREAD in /proc/PID/stat's flags (field 9): only the kernel makes such a task,
    /// whatever a process calls itself (any user may name one "irq/24-vfio…" with
    /// PR_SET_NAME, and would be made SCHED_FIFO by hvd if the name were enough).
    static let kernelThreadFlag: UInt64 = 0x0020_0000

    func isKernelThread(_ pid: pid_t) -> Bool {
        guard let f = ProcStat.fields(path: "/proc/\(pid)/stat", sys: SysFS(root: sysRoot)), f.count > 6,
            let flags = UInt64(f[6])
        else { return false }
        return flags & Self.kernelThreadFlag != 0
    }

    /// Puts every vector of the devices on `cores` with its thread FIFO at
    /// `priority`; returns notes for what the host refused. `done` holds
    /// each vector placed with the thread it had (0: not threaded): the
    /// guest's driver frees and requests vectors again (a new thread, maybe
    /// the same number), so a vector whose thread is gone is placed again.
    /// /proc is searched for threads only then, not every time: the kernel
    /// makes a vector's thread before the vector shows in /proc/interrupts.
    public func place(addresses: [String], cores: [Int], priority: Int, done: inout [Int: pid_t]) -> [String] {
        guard !cores.isEmpty else { return [] }
        let byDevice = vectors(of: addresses)
        let current = Set(byDevice.flatMap(\.irqs))
        done = done.filter { irq, tid in current.contains(irq) && (tid == 0 || serves(tid, irq)) }
        guard current.contains(where: { done[$0] == nil }) else { return [] }
        let serving = threads()
        var notes: [String] = []
        for (address, irqs) in byDevice {
            for irq in irqs where done[irq] == nil {
                let tid = serving[irq] ?? 0
                done[irq] = tid
                do {
                    try SysFS(root: sysRoot).write(CPUList.format(Set(cores)), to: "/proc/irq/\(irq)/smp_affinity_list")
                } catch {
                    notes.append("could not put interrupt \(irq) of \(address) on core \(CPUList.format(Set(cores))): \(error)")
                }
                // Looked at again just before its priority changes: a pid can be reused.
                if priority > 0, tid > 0, serves(tid, irq) {
                    let e = hv_set_fifo(tid, Int32(priority))
                    if e != 0 { notes.append("SCHED_FIFO not permitted for interrupt \(irq)'s thread (\(String(cString: strerror(e))))") }
                }
            }
        }
        return notes
    }

    /// Where each device's vectors are now, read back from the kernel;
    /// `threads`: the vectors' threads as `place` found them (nil: look them up).
    public func observe(_ addresses: [String], threads known: [Int: pid_t]? = nil) -> [String: [DeviceInterrupt]] {
        let sys = SysFS(root: sysRoot)
        let byDevice = vectors(of: addresses)
        let serving = known ?? (byDevice.allSatisfy(\.irqs.isEmpty) ? [:] : threads())
        var out: [String: [DeviceInterrupt]] = [:]
        for (address, irqs) in byDevice {
            out[address] = irqs.map { irq in
                let list = sys.text("/proc/irq/\(irq)/effective_affinity_list") ?? sys.text("/proc/irq/\(irq)/smp_affinity_list") ?? ""
                let tid = serving[irq].flatMap { $0 > 0 && serves($0, irq) ? $0 : nil }
                return DeviceInterrupt(irq: irq, cores: (CPUList.parse(list) ?? []).sorted(), thread: tid.flatMap { Placement.observe($0) })
            }
        }
        return out
    }
}
