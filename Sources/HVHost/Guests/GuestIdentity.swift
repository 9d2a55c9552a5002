import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Who a guest's QEMU (and its swtpm and smbd) runs as. Guests are
/// untrusted: a guest that breaks out of its device model must find itself
/// an ordinary user, like libvirt's qemu user and Firecracker's jailer.
/// Each guest gets a user id of its own (`uidBase` + its Id in hv.config),
/// so one guest's QEMU cannot read another's disk, NVRAM or TPM state, and
/// all share the group `hv-qemu`, which may reach hvd's one socket for
/// them (the ivshmem server of the events) and nothing else of hvd's. No
/// password entry is needed for the user ids (as with Firecracker's
/// `--uid`); `hv setup` creates the group. hvd does all that needs root
/// (placement, cgroups, shared memory, sockets) before QEMU starts.
public struct GuestIdentity: Sendable, Equatable {
    public var uid: uid_t
    public var gid: gid_t
    /// Supplementary groups: hv-qemu, and kvm when /dev/kvm is the kvm group's.
    public var groups: [gid_t]

    public init(uid: uid_t, gid: gid_t, groups: [gid_t]) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    public static let groupName = "hv-qemu"
    /// Far above the ids of people and system users (and below 2^31).
    public static let uidBase: uid_t = 1_700_000_000
    /// Guests without an Id (not in hv.config) take one from their folder's name, above every Id.
    static let idRange = 10_000...60_000

    /// The user ids hv gives guests' QEMUs.
    public static var guestUsers: ClosedRange<uid_t> { uidBase...(uidBase + uid_t(idRange.upperBound)) }
    public static func isGuestUser(_ uid: uid_t) -> Bool { guestUsers.contains(uid) }

    /// False when hvd is not root (development): QEMU then runs as hvd's own user.
    public static var dropsPrivileges: Bool { geteuid() == 0 }

    public static func forGuest(id: Int?, folder: String) -> GuestIdentity {
        let n: Int
        if let id, id > 0 && id < idRange.lowerBound {
            n = id
        } else {
            var h: UInt32 = 2_166_136_261
            for b in folder.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
            n = idRange.lowerBound + Int(h % UInt32(idRange.count))
        }
        let group = sharedGroup()
        var groups = [group]
        if let kvm = getgrnam("kvm")?.pointee.gr_gid { groups.append(kvm) }
        return GuestIdentity(uid: uidBase + uid_t(n), gid: group, groups: groups)
    }

    /// The hv-qemu group's id; created (groupadd --system) when missing.
    /// Without groupadd (a minimal system) a fixed id without a name serves.
    public static func sharedGroup() -> gid_t {
        if let g = getgrnam(groupName) { return g.pointee.gr_gid }
        if dropsPrivileges, Executables.find("groupadd") != nil,
            (try? Command.run(["groupadd", "--system", groupName], timeout: 20))?.status == 0,
            let g = getgrnam(groupName)
        {
            return g.pointee.gr_gid
        }
        return uidBase
    }

    /// The account name of a guest's user: `hv-guest-<n>`.
    public var accountName: String { "hv-guest-\(uid &- Self.uidBase)" }

    /// Gives this guest's user a passwd entry when it has none. QEMU's SMB
    /// share needs one: QEMU names the user in the smb.conf it writes
    /// (`force user`) and refuses to start without it ("Failed to retrieve
    /// user name"). A system account without a home, a shell, a password or
    /// a login record (`--no-log-init`: a uid this high would otherwise make
    /// lastlog a sparse file of hundreds of gigabytes).
    public func ensureAccount() throws {
        guard Self.dropsPrivileges, getpwuid(uid) == nil else { return }
        guard Executables.find("useradd") != nil else {
            throw HVError(
                .notFound, "the guest's QEMU runs as user \(uid), which has no name, and useradd is missing to give it one",
                hint:
                    "create it (useradd --system --no-log-init -M -d /nonexistent -s /usr/sbin/nologin -u \(uid) -g \(gid) -N \(accountName)), or set \"ShareGuestsFolder\"=\"false\""
            )
        }
        let r = try Command.run(
            [
                "useradd", "--system", "--no-log-init", "--no-create-home", "--home-dir", "/nonexistent",
                "--shell", "/usr/sbin/nologin", "--uid", String(uid), "--gid", String(gid), "--no-user-group",
                accountName,
            ], timeout: 30)
        // Another start may have created it in the meantime (exit 4: uid taken, 9: name taken).
        guard r.status == 0 || getpwuid(uid) != nil else {
            throw HVError(
                .io, "cannot give the guest's user \(uid) the name \(accountName) (useradd: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))",
                hint: "QEMU's SMB share for Windows needs a named user; create it by hand or set \"ShareGuestsFolder\"=\"false\"")
        }
    }

    /// Makes `url` this guest's own: owner, and mode (0600 files, 0700 folders).
    /// Never follows a link, so a link planted in the guest's place cannot
    /// turn this into a chown of a host file.
    public func own(_ url: URL, mode: mode_t) throws {
        guard Self.dropsPrivileges else { return }
        let fd = open(url.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix("cannot open \(url.path)", errno: errno) }
        defer { close(fd) }
        guard fchown(fd, uid, gid) == 0, fchmod(fd, mode) == 0 else {
            throw HVError.posix("cannot give \(url.path) to the guest's user \(uid)", errno: errno)
        }
    }

    /// A disk is a regular file or a block device the configuration names
    /// itself: never a link (whose target could change), a character device,
    /// a folder or a pipe, which `own` would otherwise hand to the guest.
    public static func checkDisk(_ url: URL) throws {
        var st = stat()
        guard lstat(url.path, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFREG, S_IFBLK: return
        case S_IFLNK:
            throw HVError(
                .invalidConfig, "the disk image \(url.path) is a symbolic link",
                hint: "name the file (or block device) itself in the configuration; nothing was started")
        default:
            throw HVError(
                .invalidConfig, "the disk image \(url.path) is neither a regular file nor a block device",
                hint: "name a disk image file or a block device; nothing was started")
        }
    }

    /// QEMU, as this user, must pass through every folder above `dir`
    /// (HV_ROOT under a private folder such as /root or a mkdtemp folder
    /// would stop it with a bare "permission denied" from QEMU).
    public func checkReachable(_ dir: URL) throws {
        guard Self.dropsPrivileges else { return }
        var d = dir.standardizedFileURL
        while d.path != "/" {
            d = d.deletingLastPathComponent().standardizedFileURL
            var st = stat()
            guard stat(d.path, &st) == 0 else { continue }
            let mode = st.st_mode
            let passes = mode & 0o001 != 0 || (st.st_gid == gid && mode & 0o010 != 0) || (st.st_uid == uid && mode & 0o100 != 0)
            guard passes else {
                throw HVError(
                    .io, "the guest's QEMU runs as an unprivileged user (\(uid)) and cannot pass through \(d.path) (mode \(String(mode & 0o777, radix: 8)))",
                    hint: "chmod o+x \(d.path), or keep HV_ROOT under a folder others may pass through; nothing was started")
            }
        }
    }

    /// A folder and everything in it (the TPM state), links left alone.
    public func ownTree(_ dir: URL) throws {
        try own(dir, mode: 0o700)
        let items = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        for name in items {
            let url = dir.appendingPathComponent(name)
            var st = stat()
            guard lstat(url.path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: try ownTree(url)
            case S_IFREG: try own(url, mode: 0o600)
            default: continue
            }
        }
    }

    /// A file QEMU only reads (an ISO, an RTOS image): it must be readable by
    /// a user that is not root. Says what to do when it is not.
    public static func checkReadable(_ url: URL, what: String) throws {
        guard dropsPrivileges else { return }
        var st = stat()
        guard stat(url.path, &st) == 0 else { return }
        let t = st.st_mode & S_IFMT
        guard t == S_IFREG || t == S_IFBLK else {
            throw HVError(.invalidConfig, "\(what) \(url.path) is not a regular file", hint: "name the file itself")
        }
        guard st.st_mode & 0o004 != 0 else {
            throw HVError(
                .invalidConfig,
                "\(what) \(url.path) can be read by its owner only (mode \(String(st.st_mode & 0o777, radix: 8))), and QEMU runs as an unprivileged user",
                hint: "chmod o+r \(url.path); nothing was started")
        }
    }
}

/// hvd's own folders and sockets that guests' QEMUs must reach: root's,
/// with the group hv-qemu allowed in and nobody else.
public enum HostPermissions {
    public static func restrict(_ url: URL, group: gid_t, mode: mode_t) throws {
        guard GuestIdentity.dropsPrivileges else { return }
        // lchown/chmod on a path hvd itself created (never a guest's).
        guard lchown(url.path, 0, group) == 0, chmod(url.path, mode) == 0 else {
            throw HVError.posix("cannot set the owner of \(url.path)", errno: errno)
        }
    }

    /// run/ and the shared sockets, at hvd's start and when the VMF loads.
    public static func prepareRunDir(_ layout: HostLayout) {
        let group = GuestIdentity.sharedGroup()
        try? restrict(layout.runDir, group: group, mode: 0o710)
    }
}

extension HostPermissions {
    /// A folder of hvd's in a place others can write too (/dev/shm): made
    /// if absent, and refused if it exists as a link or belongs to someone
    /// else (who could then swap the files hvd puts in it).
    public static func ensureOwnedDirectory(_ url: URL, group: gid_t, mode: mode_t) throws {
        if mkdir(url.path, 0o700) != 0 && errno != EEXIST {
            throw HVError.posix("cannot create \(url.path)", errno: errno)
        }
        var st = stat()
        guard lstat(url.path, &st) == 0 else { throw HVError.posix("cannot read \(url.path)", errno: errno) }
        guard st.st_mode & S_IFMT == S_IFDIR, st.st_uid == geteuid() else {
            throw HVError(
                .io, "refusing \(url.path): it exists and is not a folder of hvd's own (owner uid \(st.st_uid))",
                hint: "someone else made it; look at what it holds, remove it, then load the VMF again")
        }
        if GuestIdentity.dropsPrivileges { _ = lchown(url.path, 0, group) }
        guard chmod(url.path, mode) == 0 else { throw HVError.posix("cannot set the mode of \(url.path)", errno: errno) }
    }

    /// A socket hvd listens on for guests' QEMUs: root's, the group hv-qemu may connect.
    public static func shareSocket(_ url: URL) {
        guard GuestIdentity.dropsPrivileges else { return }
        _ = lchown(url.path, 0, GuestIdentity.sharedGroup())
        _ = chmod(url.path, 0o660)
    }
}

/// Reading what a guest wrote (its exchange folder): never through a link
/// the guest planted, never more than `maxBytes`.
public enum GuestWritten {
    public static func readText(_ url: URL, maxBytes: Int) throws -> String {
        String(decoding: try readData(url, maxBytes: maxBytes), as: UTF8.self)
    }

    /// A file in a folder the guest may also have made: neither the folder
    /// nor the file may be a link (a folder the guest replaced by a link to
    /// one of the host's would otherwise be read from).
    public static func readText(_ name: String, in dir: URL, maxBytes: Int) throws -> String {
        precondition(!name.contains("/"), "a name, not a path")
        let d = open(dir.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard d >= 0 else { throw HVError.posix("cannot open \(dir.path)", errno: errno) }
        defer { close(d) }
        let fd = openat(d, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix("cannot read \(dir.path)/\(name)", errno: errno) }
        return String(decoding: try read(fd, what: dir.appendingPathComponent(name).path, maxBytes: maxBytes), as: UTF8.self)
    }

    /// Whether `name` is in `dir` (as anything: a link counts, and is not
    /// followed), looked at through the folder opened without following it.
    public static func exists(_ name: String, in dir: URL) -> Bool {
        precondition(!name.contains("/"), "a name, not a path")
        let d = open(dir.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard d >= 0 else { return false }
        defer { close(d) }
        var st = stat()
        return fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) == 0
    }

    public static func readData(_ url: URL, maxBytes: Int) throws -> Data {
        let fd = open(url.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix("cannot read \(url.path)", errno: errno) }
        return try read(fd, what: url.path, maxBytes: maxBytes)
    }

    /// Takes `fd` (closed here): a regular file of at most `maxBytes`.
    static func read(_ fd: Int32, what path: String, maxBytes: Int) throws -> Data {
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw HVError(.io, "\(path) is not a regular file")
        }
        let data = (try? handle.read(upToCount: maxBytes + 1)) ?? Data()
        guard data.count <= maxBytes else { throw HVError(.io, "\(path) is larger than \(maxBytes) bytes") }
        return data
    }
}

/// A POSIX access list (the `system.posix_acl_access` attribute, as
/// setfacl writes it): root and the named users read and write, nobody else.
public enum PosixACL {
    static let version: UInt32 = 2
    static let userObj: UInt16 = 0x01, user: UInt16 = 0x02, groupObj: UInt16 = 0x04, mask: UInt16 = 0x10, other: UInt16 = 0x20
    static let undefinedID: UInt32 = 0xFFFF_FFFF

    /// The attribute's bytes: entries in the kernel's order (users sorted by id).
    public static func encode(readWrite uids: [uid_t]) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: UInt16) { out += [UInt8(v & 0xff), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { out += (0..<4).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
        func entry(_ tag: UInt16, _ perm: UInt16, _ id: UInt32) {
            u16(tag)
            u16(perm)
            u32(id)
        }
        u32(version)
        entry(userObj, 6, undefinedID)
        for uid in Set(uids).sorted() where uid != 0 { entry(user, 6, uid) }
        entry(groupObj, 0, undefinedID)
        entry(mask, 6, undefinedID)
        entry(other, 0, undefinedID)
        return out
    }

    /// Root's file, mode 0600, plus read-write for `uids`; false when the file system refuses access lists.
    public static func grant(fd: Int32, readWrite uids: [uid_t]) -> Bool {
        guard fchown(fd, 0, 0) == 0, fchmod(fd, 0o600) == 0 else { return false }
        let bytes = encode(readWrite: uids)
        return bytes.withUnsafeBytes { hv_fsetxattr(fd, "system.posix_acl_access", $0.baseAddress, bytes.count) } == 0
    }
}
