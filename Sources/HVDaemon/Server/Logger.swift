import Foundation
import HVCore
#if canImport(Glibc)
import Glibc
#endif

/// hvd's log: one line per event on stderr. Started by an `hv` command that
/// is log/hvd.log, with the time on each line; under systemd it is the
/// journal, which keeps its own time and reads the syslog level from a `<N>`
/// prefix (sd-daemon(3)), so `journalctl -u hvd -p warning` shows problems only.
final class Logger: @unchecked Sendable {
    enum Level: Int { case error = 3, warning = 4, info = 6 }

    private let lock = NSLock()
    /// systemd sets JOURNAL_STREAM when stderr is the journal.
    private let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil

    func info(_ message: String) { write(.info, message) }
    func warning(_ message: String) { write(.warning, message) }
    func error(_ message: String) { write(.error, message) }

    private func write(_ level: Level, _ message: String) {
        // One entry per call: a newline in a message (a guest's name is
        // refused with one, but an error text may carry one) stays in its entry.
        let text = message.replacingOccurrences(of: "\n", with: " ⏎ ")
        let line: String
        if journal {
            line = "<\(level.rawValue)>\(text)\n"
        } else {
            let tag = level == .info ? "" : (level == .warning ? "warning: " : "error: ")
            line = "\(Timestamp.iso8601()) \(tag)\(text)\n"
        }
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// The sd_notify(3) protocol without libsystemd: one datagram to the socket
/// systemd names in NOTIFY_SOCKET (a path, or an abstract name after '@').
/// Without systemd it does nothing.
enum SystemdNotify {
    @discardableResult
    static func send(_ state: String) -> Bool {
        guard let target = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !target.isEmpty,
              target.hasPrefix("/") || target.hasPrefix("@") else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var path = Array(target.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.enumerated() { raw[i] = b }
        }
        // An abstract name's length is exact; a path's includes its NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, length) }
        }
        return sent == bytes.count
    }
}
