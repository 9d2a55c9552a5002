import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Copies files a guest's user may have written (its UEFI variables, its
/// TPM state, a raw disk) as plain bytes, never through a link it planted:
/// regular files only, opened without following links, holes kept. The
/// copy is root's, mode 0600, and synced.
public enum GuestFileCopy {
    /// lseek's SEEK_DATA and SEEK_HOLE (Linux; Glibc's module leaves them out).
    static let seekData: Int32 = 3, seekHole: Int32 = 4

    /// Copies the regular file `from` to the new file `to`; returns its size.
    @discardableResult
    public static func file(_ from: URL, to: URL) throws -> UInt64 {
        let src = open(from.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard src >= 0 else { throw HVError.posix("cannot read \(from.path)", errno: errno) }
        defer { close(src) }
        return try copy(src, named: from.path, to: to)
    }

    /// The regular files directly in `from` (swtpm's state folder is flat)
    /// into the new folder `to`; links, devices and subfolders are left out,
    /// and so is swtpm's `.lock`. Returns the names copied.
    @discardableResult
    public static func directory(_ from: URL, to: URL) throws -> [String] {
        let dir = open(from.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dir >= 0 else { throw HVError.posix("cannot read the folder \(from.path)", errno: errno) }
        defer { close(dir) }
        try FileManager.default.createDirectory(at: to, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var copied: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: from.path).sorted() where name != ".lock" {
            let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
            guard fd >= 0 else { continue }  // a link (ELOOP), or gone meanwhile
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            _ = try copy(fd, named: from.appendingPathComponent(name).path, to: to.appendingPathComponent(name))
            copied.append(name)
        }
        return copied
    }

    /// The bytes of `src` (a regular file) into the new file `to`, holes kept.
    static func copy(_ src: Int32, named: String, to: URL) throws -> UInt64 {
        var st = stat()
        guard fstat(src, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw HVError(.unsupported, "\(named) is not a regular file (a link or a device): it is not copied")
        }
        let dst = open(to.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard dst >= 0 else { throw HVError.posix("cannot create \(to.path)", errno: errno) }
        var done = false
        defer {
            close(dst)
            if !done { unlink(to.path) }
        }
        let size = off_t(st.st_size)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while offset < size {
            // Only the parts with data; a file system without SEEK_DATA has none of holes either.
            var start = lseek(src, offset, seekData)
            if start < 0 {
                if errno == ENXIO { break }
                start = offset
            }
            var end = lseek(src, start, seekHole)
            if end < 0 || end > size { end = size }
            var at = start
            while at < end {
                let got = pread(src, &buffer, min(buffer.count, Int(end - at)), at)
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    if got == 0 { break }
                    throw HVError.posix("cannot read \(named)", errno: errno)
                }
                var written = 0
                while written < got {
                    let w = buffer.withUnsafeBytes { raw in pwrite(dst, raw.baseAddress.map { $0 + written }, got - written, at + off_t(written)) }
                    if w < 0 && errno == EINTR { continue }
                    guard w > 0 else { throw HVError.posix("cannot write \(to.path)", errno: errno) }
                    written += w
                }
                at += off_t(got)
            }
            offset = max(end, at)
        }
        guard ftruncate(dst, size) == 0, fsync(dst) == 0 else { throw HVError.posix("cannot write \(to.path)", errno: errno) }
        done = true
        return UInt64(size)
    }

    /// Bytes a copy of the file takes (its allocated blocks).
    public static func allocatedBytes(_ url: URL) -> UInt64 {
        var st = stat()
        guard lstat(url.path, &st) == 0 else { return 0 }
        return UInt64(st.st_blocks) * 512
    }
}
