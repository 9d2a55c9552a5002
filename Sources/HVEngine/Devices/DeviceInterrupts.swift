import Foundation
import HVCore
import CHVSys
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

    public func vectors(of address: String) -> [Int] {
        Self.vectors(of: address, in: SysFS(root: sysRoot).text("/proc/interrupts") ?? "")
    }

    /// The kernel threads serving interrupts (named "irq/N-…"), by interrupt
    /// number: one look through /proc for all of them.
    public func threads() -> [Int: pid_t] {
        let sys = SysFS(root: sysRoot)
        var out: [Int: pid_t] = [:]
        for entry in sys.entries("/proc") {
            guard let pid = pid_t(entry), let comm = sys.text("/proc/\(entry)/comm"), comm.hasPrefix("irq/"),
                  let n = Int(comm.dropFirst(4).prefix { $0.isNumber }) else { continue }
            // A shared line's second handler ("irq/N-s-…") starts later: the first found serves.
            if out[n] == nil || pid < out[n] ?? pid { out[n] = pid }
        }
        return out
    }

    /// Puts every vector of the devices on `cores` with its thread FIFO at
    /// `priority`; returns notes for what the host refused. `done` holds
    /// each vector placed with the thread it had: the guest's driver frees
    /// and requests vectors again (a new thread, maybe the same number), so
    /// a vector whose thread changed is placed again.
    public func place(addresses: [String], cores: [Int], priority: Int, done: inout [Int: pid_t]) -> [String] {
        guard !cores.isEmpty else { return [] }
        let byDevice = addresses.map { ($0, self.vectors(of: $0)) }
        let current = Set(byDevice.flatMap { $0.1 })
        done = done.filter { current.contains($0.key) }
        guard !current.isEmpty else { return [] }
        let serving = threads()
        var notes: [String] = []
        for (address, irqs) in byDevice {
            for irq in irqs {
                let tid = serving[irq] ?? 0
                if let placed = done[irq], placed == tid { continue }
                done[irq] = tid
                do {
                    try SysFS(root: sysRoot).write(CPUList.format(Set(cores)), to: "/proc/irq/\(irq)/smp_affinity_list")
                } catch {
                    notes.append("could not put interrupt \(irq) of \(address) on core \(CPUList.format(Set(cores))): \(error)")
                }
                if priority > 0, tid > 0 {
                    let e = hv_set_fifo(tid, Int32(priority))
                    if e != 0 { notes.append("SCHED_FIFO not permitted for interrupt \(irq)'s thread (\(String(cString: strerror(e))))") }
                }
            }
        }
        return notes
    }

    /// Where each vector of `address` is now, read back from the kernel.
    public func observe(_ address: String) -> [DeviceInterrupt] {
        let sys = SysFS(root: sysRoot)
        let serving = sysRoot.isEmpty ? threads() : [:]
        return vectors(of: address).map { irq in
            let list = sys.text("/proc/irq/\(irq)/effective_affinity_list") ?? sys.text("/proc/irq/\(irq)/smp_affinity_list") ?? ""
            return DeviceInterrupt(irq: irq, cores: (CPUList.parse(list) ?? []).sorted(),
                                   thread: serving[irq].flatMap { Placement.observe($0) })
        }
    }
}
