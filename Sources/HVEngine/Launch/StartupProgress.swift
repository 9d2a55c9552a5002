import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether a starting QEMU is still getting somewhere. Before it opens QMP it
/// allocates, locks and (with an assigned device) pins every page of guest
/// memory and maps it through the IOMMU: seconds on a host, minutes on a
/// slow one (a nested guest pinning through an emulated IOMMU took more than
/// 15 s for 256 MiB). A fixed window either gives up on such a start or waits
/// long on a QEMU that hangs; its CPU time tells the two apart, as the kernel
/// counts the pinning in the ioctl against the QEMU thread that asked for it.
struct StartupProgress {
    /// A QEMU that used no CPU for this long is stuck.
    static let idleLimit: Double = 15
    /// And no start waits longer than this, busy or not.
    static let hardLimit: Double = 300

    let pid: pid_t
    let started: Date
    private var lastTicks: UInt64?
    private var lastChange: Date

    init(pid: pid_t, now: Date = Date()) {
        self.pid = pid
        started = now
        lastChange = now
    }

    enum Verdict: Equatable { case waiting, idle, tooLong }

    /// Samples QEMU's CPU time; `ticks` is for tests (nil: read /proc).
    mutating func check(now: Date = Date(), ticks: UInt64?? = .none) -> Verdict {
        let t = ticks ?? Self.cpuTicks(pid)
        if let t, t != lastTicks {
            if lastTicks != nil { lastChange = now }
            lastTicks = t
        }
        if now.timeIntervalSince(started) > Self.hardLimit { return .tooLong }
        if now.timeIntervalSince(lastChange) > Self.idleLimit { return .idle }
        return .waiting
    }

    /// utime + stime of the whole process (fields 14 and 15 of /proc/PID/stat,
    /// counted after the name, which may hold spaces and parentheses).
    static func cpuTicks(_ pid: pid_t) -> UInt64? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        return ticks(statLine: String(decoding: data.prefix(4096), as: UTF8.self))
    }

    static func ticks(statLine: String) -> UInt64? {
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        let fields = statLine[statLine.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user &+ system
    }
}
