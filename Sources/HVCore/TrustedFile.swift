import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The files hv runs or parses as root (guest_config.sh, usr_guest_config.sh,
/// vm_shutdown_hook.sh, guest.config, usr.config, hv.config, project files)
/// must be writable by root alone, the way sshd's StrictModes and sudo
/// treat theirs: a file that a guest (through a shared folder) or another
/// local user could change would hand them root. Checked right before use.
public enum TrustedFile {
    /// Larger configuration files are refused rather than read.
    public static let maxConfigBytes = 1 << 20

    /// Throws unless `url` is a regular file, not a symbolic link, owned by
    /// root (or by the user hv runs as), not writable by group or others,
    /// in folders only they can change.
    public static func check(_ url: URL, use: String) throws {
        var st = stat()
        guard lstat(url.path, &st) == 0 else { throw HVError.posix("cannot read \(url.path)", errno: errno) }
        let fix = "chown root:root \(url.path) && chmod go-w \(url.path) (read it first: someone else could change it)"
        if st.st_mode & S_IFMT == S_IFLNK {
            throw HVError(
                .invalidConfig, "refusing \(url.path): it is a symbolic link, and \(use)",
                hint: "replace the link with the file itself; nothing was started")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw HVError(.invalidConfig, "refusing \(url.path): it is not a regular file", hint: "nothing was started")
        }
        if let problem = problem(st) {
            throw HVError(
                .invalidConfig, "refusing \(url.path): it \(problem), and \(use), so only root may be able to change it",
                hint: fix + "; nothing was started")
        }
        var dir = url.deletingLastPathComponent().standardizedFileURL
        while true {
            var ds = stat()
            if stat(dir.path, &ds) == 0, let problem = problem(ds, directory: true) {
                throw HVError(
                    .invalidConfig, "refusing \(url.path): its folder \(dir.path) \(problem), so someone else could replace the file",
                    hint: "chown root:root \(dir.path) && chmod go-w \(dir.path); nothing was started")
            }
            if dir.path == "/" { break }
            dir = dir.deletingLastPathComponent().standardizedFileURL
        }
    }

    static func problem(_ st: stat, directory: Bool = false) -> String? {
        let owner = st.st_uid
        let mode = st.st_mode & 0o7777
        let ownerOK = owner == 0 || owner == geteuid()
        // A sticky folder (/tmp) lets others add files but not replace ours.
        let writableByOthers = mode & 0o022 != 0 && !(directory && mode & mode_t(S_ISVTX) != 0)
        guard ownerOK, !writableByOthers else {
            return "is owned by uid \(owner) with mode \(String(mode, radix: 8))"
        }
        return nil
    }

    /// Reads a configuration file after `check`, bounded.
    public static func readConfig(_ url: URL) throws -> Data {
        try check(url, use: "hv reads it as root")
        let fd = open(url.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix("cannot read \(url.path)", errno: errno) }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let data = (try? handle.read(upToCount: maxConfigBytes + 1)) ?? Data()
        guard data.count <= maxConfigBytes else {
            throw HVError(.invalidConfig, "\(url.path) is larger than \(maxConfigBytes) bytes", hint: "a configuration file is a few KiB")
        }
        return data
    }
}
