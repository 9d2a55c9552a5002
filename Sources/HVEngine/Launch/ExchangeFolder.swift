import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// A guest's exchange folder, the one place in /hv/guests it may write, is
/// a file system of its own: an ext4 image (`exchange.img` in the guest
/// folder, root's) mounted on `exchange/` with nosuid, nodev and noexec.
/// A guest that fills it fills its own image, never the file system that
/// holds hv.config, other guests and hvd's records. It stays mounted after
/// the guest stops (the host reads what the guest left) and is mounted
/// again when hvd starts or the guest starts; deleting the guest unmounts it.
/// Where the host cannot (no mkfs.ext4, no loop devices, hvd not root) the
/// folder is a plain one and the guest's start says so.
public enum ExchangeFolder {
    public static let defaultSizeMiB = 256

    /// Mounts (making the image the first time); nil, or a note for the user when the folder is not size-limited.
    public static func provide(_ folder: GuestFolder, identity: GuestIdentity, sizeMiB: Int) -> String? {
        let dir = folder.exchangeDir
        if mkdir(dir.path, 0o700) != 0 && errno != EEXIST { return "exchange folder: cannot create \(dir.path)" }
        guard GuestIdentity.dropsPrivileges else { return nil }
        if !isMounted(dir) {
            if let problem = mount(folder, identity: identity, sizeMiB: sizeMiB) {
                try? identity.own(dir, mode: 0o700)
                return "exchange folder \(dir.path) is not size-limited (\(problem)): a guest that fills it fills the host's disk"
            }
        }
        try? identity.own(dir, mode: 0o700)
        return nil
    }

    /// Before a guest folder goes (deletion): unmounted, lazily if something still reads it.
    public static func release(_ folder: GuestFolder) {
        guard isMounted(folder.exchangeDir) else { return }
        if (try? Command.run(["umount", folder.exchangeDir.path], timeout: 20))?.status != 0 {
            _ = try? Command.run(["umount", "-l", folder.exchangeDir.path], timeout: 20)
        }
    }

    /// The mount points under `root` (mountinfo's fifth field, \040-escaped), deepest first.
    public static func mounts(under root: URL) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let prefix = root.standardizedFileURL.path + "/"
        return text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let point = unescape(String(fields[4]))
            return point.hasPrefix(prefix) ? point : nil
        }.sorted { $0.count > $1.count }
    }

    static func isMounted(_ dir: URL) -> Bool {
        mounts(under: dir.deletingLastPathComponent()).contains(dir.standardizedFileURL.path)
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = [UInt8](), bytes = Array(s.utf8), i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
                let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                out.append(v)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil when mounted; else why not.
    static func mount(_ folder: GuestFolder, identity: GuestIdentity, sizeMiB: Int) -> String? {
        let image = folder.exchangeImage, dir = folder.exchangeDir
        var st = stat()
        if lstat(image.path, &st) != 0 {
            guard Executables.find("mkfs.ext4") != nil else { return "mkfs.ext4 is not installed (e2fsprogs)" }
            let fd = open(image.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return "cannot create \(image.path): \(String(cString: strerror(errno)))" }
            let sized = ftruncate(fd, off_t(sizeMiB) << 20) == 0
            close(fd)
            let made =
                sized
                ? try? Command.run(
                    [
                        "mkfs.ext4", "-q", "-F", "-m", "0", "-L", "hv-exchange",
                        "-E", "root_owner=\(identity.uid):\(identity.gid)", image.path,
                    ], timeout: 120) : nil
            guard made?.status == 0 else {
                unlink(image.path)
                return "mkfs.ext4 failed: \(made?.stderr.trimmingCharacters(in: .whitespacesAndNewlines) ?? "no space")"
            }
            // What the guest wrote before the folder had its own file system moves into it.
            if let problem = moveInto(image, from: dir) { return problem }
        } else if st.st_mode & S_IFMT != S_IFREG {
            return "\(image.path) is not a regular file"
        }
        let r = try? Command.run(["mount", "-o", "loop,nosuid,nodev,noexec,noatime", image.path, dir.path], timeout: 30)
        guard r?.status == 0 else { return "mount failed: \(r?.stderr.trimmingCharacters(in: .whitespacesAndNewlines) ?? "no mount")" }
        return nil
    }

    static func moveInto(_ image: URL, from dir: URL) -> String? {
        let items = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
        guard !items.isEmpty else { return nil }
        let staging = dir.deletingLastPathComponent().appendingPathComponent(".exchange-moving")
        _ = Glibc.mkdir(staging.path, 0o700)
        defer {
            _ = try? Command.run(["umount", staging.path], timeout: 20)
            rmdir(staging.path)
        }
        guard (try? Command.run(["mount", "-o", "loop,nosuid,nodev,noexec", image.path, staging.path], timeout: 30))?.status == 0,
            (try? Command.run(["cp", "-a", dir.path + "/.", staging.path + "/"], timeout: 600))?.status == 0
        else {
            return "could not move the folder's files into \(image.path)"
        }
        for name in items { try? FileManager.default.removeItem(at: dir.appendingPathComponent(name)) }
        return nil
    }
}
