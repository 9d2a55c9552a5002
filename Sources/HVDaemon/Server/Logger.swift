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
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
