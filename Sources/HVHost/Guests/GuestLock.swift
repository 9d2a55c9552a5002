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
        if let held = LockTable.hasFlock(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) { return held }
        // No /proc/locks (a restricted /proc), or one past its bound: the probe, with its moment.
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
/// Any local user can make the table long (each lock is a line), so it is
/// read in pieces, stopping at the first match and at `maxBytes`.
enum LockTable {
    static let maxBytes = 16 << 20

    /// Whether the table shows an flock on the file; nil when it cannot be read within its bound.
    static func hasFlock(device: UInt64, inode: UInt64, path: String = "/proc/locks") -> Bool? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let key = self.key(device: device, inode: inode)
        var pending = Data(), read = 0
        while read < maxBytes, let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            read += chunk.count
            pending.append(chunk)
            guard let last = pending.lastIndex(of: 0x0A) else { continue }
            let lines = String(decoding: pending[..<last], as: UTF8.self)
            if hasFlock(in: lines, key: key) { return true }
            pending = Data(pending[pending.index(after: last)...])
        }
        return read < maxBytes ? hasFlock(in: String(decoding: pending, as: UTF8.self), key: key) : nil
    }

    static func hasFlock(in table: String, device: UInt64, inode: UInt64) -> Bool {
        hasFlock(in: table, key: key(device: device, inode: inode))
    }

    /// "MAJ:MIN:INODE" as the kernel prints a file's device and inode.
    static func key(device: UInt64, inode: UInt64) -> String {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        return String(format: "%02x:%02x:%llu", major, minor, inode)
    }

    private static func hasFlock(in lines: String, key: String) -> Bool {
        lines.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count >= 6 && fields[1] == "FLOCK" && fields[5] == key
        }
    }
}
