import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a file system can still take: the one statvfs reading that every
/// room check (a write, a start, a snapshot, a backup, a paused guest's
/// resume) goes by.
public enum FreeSpace {
    /// Bytes an unprivileged writer may still use on the file system of `path` (nil: it cannot be read).
    public static func bytes(at path: String) -> UInt64? {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return nil }
        return UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
    }

    /// The file system `path` lies on (two paths on one share its room).
    public static func device(of path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_dev) : nil
    }
}
