import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes that matter: a temporary file beside the target, fsync, rename,
/// fsync of the folder. A reader sees the old file or the new one, never half.
/// A write that fails (a full file system above all) leaves the old file as
/// it was and says which file system is full and what to free.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL, mode: mode_t = 0o644) throws {
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            let e = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code ?? Int(EIO)
            throw failure("cannot create the folder \(dir.path)", url, errno: Int32(e))
        }
        // Unique per write (two threads of hvd may write at once), created
        // new: never a file or link that was already there.
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("cannot write \(tmp.path)", url, errno: errno) }
        var err: Int32 = 0
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress.map { $0 + off }, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    err = errno
                    break
                }
                if n == 0 {
                    err = EIO
                    break
                }
                off += n
            }
        }
        if err == 0 && fsync(fd) != 0 { err = errno }
        fchmod(fd, mode)
        close(fd)
        guard err == 0 else {
            unlink(tmp.path)
            throw failure("cannot write \(url.path)", url, errno: err)
        }
        guard rename(tmp.path, url.path) == 0 else {
            let e = errno
            unlink(tmp.path)
            throw failure("cannot replace \(url.path)", url, errno: e)
        }
        let dfd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    public static func write(_ text: String, to url: URL, mode: mode_t = 0o644) throws {
        try write(Data(text.utf8), to: url, mode: mode)
    }

    /// What went wrong; a full file system (or quota) named with what to free.
    static func failure(_ what: String, _ url: URL, errno e: Int32) -> HVError {
        guard e == ENOSPC || e == EDQUOT else { return HVError.posix(what, errno: e) }
        return HVError.noRoom(for: url)
    }
}

extension HVError {
    /// A write refused for want of room: where, how much is left, what to free.
    public static func noRoom(for url: URL) -> HVError {
        let dir = url.deletingLastPathComponent()
        let free = FreeSpace.bytes(at: dir.path).map { " (\($0 >> 10) KiB free)" } ?? ""
        return HVError(
            .insufficientResources, "no room to write \(url.path): the file system of \(dir.path) is full\(free)",
            hint:
                "free space there (old backups in backup/, snapshots, console logs, disk images no longer needed), then try again; \(url.lastPathComponent) was left as it was"
        )
    }
}
