import Foundation
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// Whether a starting QEMU is still getting somewhere. Before it opens QMP it
/// allocates, locks and (with an assigned device) pins every page of guest
/// memory and maps it through the IOMMU: seconds on a host, minutes on a
/// slow one (a nested guest pinning through an emulated IOMMU once took more
/// than 15 s for 256 MiB). A fixed window either gives up on such a start or waits
/// long on a QEMU that hangs; its CPU time tells the two apart, as the kernel
/// counts the pinning in the ioctl against the QEMU thread that asked for it.
struct StartupProgress {
    /// A QEMU that used no CPU for this long is stuck.
    static let idleLimit: Double = 15
    /// And no start waits longer than this, busy or not.
    static let hardLimit: Double = 300

    /// CPU time is counted in ticks (10 ms): a look twice a second is plenty.
    static let sampleInterval: Double = 0.5

    let pid: pid_t
    let started: Date
    private var lastTicks: UInt64?
    private var lastChange: Date
    private var lastSample: Date?
    private var verdict = Verdict.waiting

    init(pid: pid_t, now: Date = Date()) {
        self.pid = pid
        started = now
        lastChange = now
    }

    enum Verdict: Equatable { case waiting, idle, tooLong }

    /// Looks at QEMU's CPU time (at most every sampleInterval; between looks
    /// the last verdict stands).
    mutating func sample(now: Date = Date()) -> Verdict {
        if let last = lastSample, now.timeIntervalSince(last) < Self.sampleInterval { return verdict }
        lastSample = now
        verdict = check(now: now, ticks: Self.cpuTicks(pid))
        return verdict
    }

    /// The verdict for a reading of QEMU's CPU time (nil: unreadable, no progress).
    mutating func check(now: Date, ticks: UInt64?) -> Verdict {
        if let ticks, ticks != lastTicks {
            if lastTicks != nil { lastChange = now }
            lastTicks = ticks
        }
        if now.timeIntervalSince(started) > Self.hardLimit { return .tooLong }
        if now.timeIntervalSince(lastChange) > Self.idleLimit { return .idle }
        return .waiting
    }

    /// utime + stime of the whole process (fields 14 and 15 of /proc/PID/stat).
    static func cpuTicks(_ pid: pid_t) -> UInt64? {
        ProcStat.fields(path: "/proc/\(pid)/stat").flatMap(ticks)
    }

    static func ticks(statLine: String) -> UInt64? { ProcStat.fields(statLine).flatMap(ticks) }

    private static func ticks(_ fields: [Substring]) -> UInt64? {
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user &+ system
    }
}
