import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// A guest's QEMU held by a pidfd: it names that process and never a later
/// one that got the same pid, polls readable when it exits, and can be
/// killed without a race. hvd watches the process this way, not only its
/// lock: a QEMU that a guest broke out of could drop the lock and run on,
/// and a lock released while the process lives is a fault, not a stop.
public final class ProcessHandle: @unchecked Sendable {
    public let pid: pid_t
    private let fd: Int32

    private init(pid: pid_t, fd: Int32) {
        self.pid = pid
        self.fd = fd
    }
    deinit { close(fd) }

    /// The process `pid`, if it runs and (when given) started at `startTime`
    /// (proc(5)'s starttime, clock ticks after boot): nil when it is gone or
    /// another process has its pid now.
    public static func open(pid: pid_t, startTime: UInt64? = nil) -> ProcessHandle? {
        let fd = hv_pidfd_open(pid)
        guard fd >= 0 else { return nil }
        let handle = ProcessHandle(pid: pid, fd: fd)
        // Read after the pidfd exists: a pid reused before it fails here, after it cannot matter.
        if let startTime, Self.startTime(of: pid) != startTime { return nil }
        return handle
    }

    /// The kernel has pidfds (Linux 5.3).
    public static var supported: Bool { open(pid: getpid()) != nil }

    /// proc(5) field 22 of /proc/PID/stat.
    public static func startTime(of pid: pid_t) -> UInt64? {
        guard let f = ProcStat.fields(path: "/proc/\(pid)/stat"), f.count > 19 else { return nil }
        return UInt64(f[19])
    }

    /// Waits up to `timeout` seconds; true once the process has exited.
    public func waitExit(timeout: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(max(0, min(timeout, 3600)) * 1000)
        while true {
            let r = poll(&p, 1, ms)
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }

    public var hasExited: Bool { waitExit(timeout: 0) }

    /// The kernel has begun its exit (PF_EXITING in /proc/PID/stat's flags,
    /// set before the process lets go of its files), or it is gone.
    public var isExiting: Bool {
        guard let f = ProcStat.fields(path: "/proc/\(pid)/stat"), f.count > 6, let flags = UInt64(f[6]) else { return true }
        return flags & 0x4 != 0
    }

    public func kill(_ signal: Int32 = SIGKILL) { _ = hv_pidfd_send_signal(fd, signal) }
}
