import Foundation
import HVCore
#if canImport(Glibc)
import Glibc
#endif

/// The lock that a running guest's QEMU holds for its whole life: hv takes it
/// before spawning and hands the descriptor to QEMU, so "is the guest
/// running?" is "is the lock held?", with no stale pid files to trust.
public enum GuestLock {
    /// Takes the lock; nil when someone (a QEMU) holds it. The descriptor is close-on-exec.
    public static func acquire(_ url: URL) throws -> Int32? {
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HVError.posix("cannot open \(url.path)", errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return fd }
        let err = errno
        close(fd)
        if err == EWOULDBLOCK { return nil }
        throw HVError.posix("cannot lock \(url.path)", errno: err)
    }

    public static func isHeld(_ url: URL) -> Bool {
        guard FileManager.default.fileExists(atPath: url.path) else { return false }
        guard let fd = try? acquire(url) else { return true }
        close(fd)
        return false
    }

    /// The processes with the lock file open (/proc/PID/fd): after a QEMU
    /// exits, whoever still holds its lock got the descriptor from it.
    public static func holders(_ url: URL) -> [pid_t] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { Int32($0) }.filter { pid in
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == url.path }
        }
    }

    /// Blocks the calling thread until whoever holds the lock lets go (the QEMU exits).
    public static func waitUntilReleased(_ url: URL) {
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        close(fd)
    }
}
