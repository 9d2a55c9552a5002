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

    /// Read from the kernel's lock table, without taking the lock: a probe
    /// that took it, even for a moment, would look like a holder to every
    /// other look at that moment (hvd's monitor deciding whether an exited
    /// QEMU left its lock to someone, a start, the CLI's status).
    public static func isHeld(_ url: URL) -> Bool {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return false }
        if let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) {
            return LockTable.hasFlock(in: table, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        }
        // No /proc/locks (a restricted /proc): the probe, with its moment.
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

/// proc(5)'s /proc/locks: one line per lock, "N: FLOCK  ADVISORY  WRITE PID
/// MAJ:MIN:INODE START END", with "N: -> …" for a waiter, which holds nothing.
enum LockTable {
    static func hasFlock(in table: String, device: UInt64, inode: UInt64) -> Bool {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        let key = String(format: "%02x:%02x:%llu", major, minor, inode)
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 6 && fields[1] == "FLOCK" && fields[5] == key
        }
    }
}
