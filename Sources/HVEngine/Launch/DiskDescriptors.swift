import Foundation
import HVCore
#if canImport(Glibc)
import Glibc
#endif

/// Opens a guest's disk for its QEMU (see InheritedFD): read-write, then
/// read-only, both without following a link, both checked to be the same
/// regular file or block device, so nothing swapped in between the checks
/// and the open reaches the guest.
public enum DiskDescriptors {
    /// [read-write, read-only], in InheritedFD's order; the caller closes them once QEMU runs.
    public static func open(_ url: URL) throws -> [Int32] {
        let rw = try openChecked(url, flags: O_RDWR)
        do {
            let ro = try openChecked(url, flags: O_RDONLY)
            guard sameFile(rw, ro) else {
                close(ro)
                throw HVError(.conflict, "the disk image \(url.path) changed while it was opened", hint: "start the guest again; nothing was started")
            }
            return [rw, ro]
        } catch {
            close(rw)
            throw error
        }
    }

    static func openChecked(_ url: URL, flags: Int32) throws -> Int32 {
        let fd = Glibc.open(url.path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP {
                throw HVError(.invalidConfig, "the disk image \(url.path) is a symbolic link",
                              hint: "name the file (or block device) itself in the configuration; nothing was started")
            }
            throw HVError.posix("cannot open the disk image \(url.path)", errno: e)
        }
        var st = stat()
        let kind = fstat(fd, &st) == 0 ? st.st_mode & S_IFMT : 0
        guard kind == S_IFREG || kind == S_IFBLK else {
            close(fd)
            throw HVError(.invalidConfig, "the disk image \(url.path) is neither a regular file nor a block device",
                          hint: "name a disk image file or a block device; nothing was started")
        }
        return fd
    }

    static func sameFile(_ a: Int32, _ b: Int32) -> Bool {
        var x = stat(), y = stat()
        return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }
}
