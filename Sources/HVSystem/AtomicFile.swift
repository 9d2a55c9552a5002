import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes that matter: a temporary file beside the target, fsync, rename,
/// fsync of the folder. A reader sees the old file or the new one, never half.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL, mode: mode_t = 0o644) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        // Unique per write (two threads of hvd may write at once), created
        // new: never a file or link that was already there.
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw HVError.posix("cannot write \(tmp.path)", errno: errno) }
        var ok = true
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress!.advanced(by: off), buf.count - off)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                off += n
            }
        }
        let err = errno
        if ok { ok = fsync(fd) == 0 }
        fchmod(fd, mode)
        close(fd)
        guard ok else {
            unlink(tmp.path)
            throw HVError.posix("cannot write \(url.path)", errno: err)
        }
        guard rename(tmp.path, url.path) == 0 else {
            let e = errno
            unlink(tmp.path)
            throw HVError.posix("cannot replace \(url.path)", errno: e)
        }
        let dfd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    public static func write(_ text: String, to url: URL, mode: mode_t = 0o644) throws {
        try write(Data(text.utf8), to: url, mode: mode)
    }
}
