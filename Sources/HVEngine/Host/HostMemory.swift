import CHVSys
import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// The host's memory budget: every guest's configured RAM is promised to it,
/// and the host keeps `RemainingHostMemoryMiB` for itself.
public enum HostMemory {
    /// MemTotal from /proc/meminfo, in MiB.
    public static func totalMiB(sysRoot: String = "") -> Int {
        let text = SysFS(root: sysRoot).text("/proc/meminfo") ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let kib = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kib / 1024
        }
        return 0
    }

    /// Refuses a start that would promise the host's reserve to guests, with the numbers.
    public static func checkStart(
        guest: String, requestMiB: Int, running: [(name: String, memoryMiB: Int)],
        reserveMiB: Int, totalMiB: Int
    ) throws {
        let promised = running.reduce(0) { $0 + $1.memoryMiB }
        let left = totalMiB - promised - requestMiB
        guard left < reserveMiB else { return }
        let others =
            running.isEmpty
            ? "no other guest runs"
            : "running guests have \(promised) MiB (" + running.map { "\($0.name) \($0.memoryMiB)" }.joined(separator: ", ") + ")"
        throw HVError(
            .insufficientResources,
            "\(guest) wants \(requestMiB) MiB: the host has \(totalMiB) MiB, \(others), so \(max(left, 0)) MiB would be left, less than the host's reserve of \(reserveMiB) MiB",
            hint:
                "give the guest less memory (\"SizeMiB\" in [Guest\\Memory] of usr.config), stop another guest, or lower \"RemainingHostMemoryMiB\" in config/hv.config"
        )
    }

    /// Why QEMU could not be given `bytes` of locked memory here, or nil: raising
    /// RLIMIT_MEMLOCK past its hard limit needs CAP_SYS_RESOURCE, which a
    /// container's root often lacks (then QEMU would fail with a bare EPERM).
    public static func lockLimitProblem(bytes: UInt64) -> String? {
        let hard = hv_memlock_hard_limit()
        if hard >= bytes { return nil }
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let effective =
            status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
            .flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) } ?? 0
        let capSysResource: UInt64 = 1 << 24
        guard effective & capSysResource == 0 else { return nil }
        return
            "this host lets hvd lock at most \(hard >> 10) KiB (RLIMIT_MEMLOCK) and not raise it (no CAP_SYS_RESOURCE: a container?), and the guest needs \(bytes >> 20) MiB locked"
    }
}
