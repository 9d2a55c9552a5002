import Foundation
import HVCore
import HVHost

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
        giveBack(url)
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

    /// Earlier versions of hv gave the disk to the guest's user; now that QEMU
    /// gets it as descriptors, hv gives it back: root's, mode 0600. A disk
    /// that is not a guest user's (root's, or someone else's) is left as it is.
    public static func giveBack(_ url: URL) {
        guard GuestIdentity.dropsPrivileges else { return }
        let fd = Glibc.open(url.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, GuestIdentity.isGuestUser(st.st_uid) else { return }
        _ = fchown(fd, 0, 0)
        _ = fchmod(fd, 0o600)
    }

    static func openChecked(_ url: URL, flags: Int32) throws -> Int32 {
        let fd = Glibc.open(url.path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP {
                throw HVError(
                    .invalidConfig, "the disk image \(url.path) is a symbolic link",
                    hint: "name the file (or block device) itself in the configuration; nothing was started")
            }
            throw HVError.posix("cannot open the disk image \(url.path)", errno: e)
        }
        var st = stat()
        let kind = fstat(fd, &st) == 0 ? st.st_mode & S_IFMT : 0
        guard kind == S_IFREG || kind == S_IFBLK else {
            close(fd)
            throw HVError(
                .invalidConfig, "the disk image \(url.path) is neither a regular file nor a block device",
                hint: "name a disk image file or a block device; nothing was started")
        }
        return fd
    }

    static func sameFile(_ a: Int32, _ b: Int32) -> Bool {
        var x = stat(), y = stat()
        return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }
}
