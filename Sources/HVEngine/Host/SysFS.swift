import Foundation

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

    public func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + path)) ?? []).sorted()
    }
}
