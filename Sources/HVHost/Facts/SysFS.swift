import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Reading the kernel's small text files under /proc and /sys (below a root
/// that tests replace with a fake tree).
public struct SysFS: Sendable {
    public var root = ""

    public init(root: String = "") { self.root = root }

    /// The file's text without surrounding white space; nil when unreadable.
    public func text(_ path: String) -> String? {
        (try? String(contentsOfFile: root + path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func int(_ path: String) -> Int? { text(path).flatMap { Int($0) } }

    /// Writes a kernel control file (no create, no truncate: sysfs files
    /// take one write); the kernel's refusal comes back with its errno.
    public func write(_ text: String, to path: String) throws {
        let fd = open(root + path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix("cannot open \(path)", errno: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw HVError.posix("the kernel refused \"\(text.trimmingCharacters(in: .whitespacesAndNewlines))\" for \(path)", errno: errno)
        }
    }

    public func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + path)) ?? []).sorted()
    }
}
