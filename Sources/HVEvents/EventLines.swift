import Foundation

/// What the event-session line protocol needs of an events server: hvd's
/// `IvshmemServer`, a host program's own `DoorbellPeer`, a fake in tests.
public protocol EventServing: Sendable {
    var eventNames: [String] { get }
    func signal(_ index: Int) -> UInt64
    func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64?
    func counter(_ index: Int) -> UInt64
}

/// The lines of `hv event session`, answered the same way whether hvd
/// serves them or `hv` does as a doorbell peer of its own:
///
///     signal NAME                 → NAME COUNT
///     wait NAME AFTER [SECONDS]   → NAME COUNT   (or: timeout NAME COUNT)
///     count NAME                  → NAME COUNT
///     anything else               → error WHAT   (the session goes on)
public enum EventLines {
    /// A line is at most this long; a longer one ends the session with `tooLong`.
    public static let maxLine = 256
    public static let tooLong = "error a line is longer than \(maxLine) bytes; the session ends"

    public static func answer(_ line: String, server: any EventServing) -> String {
        let words = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        guard let verb = words.first else { return "error an empty line (signal NAME, wait NAME AFTER [SECONDS], count NAME)" }
        guard ["signal", "wait", "count"].contains(verb) else {
            return "error \"\(shown(line, 60))\": expected signal NAME, wait NAME AFTER [SECONDS] or count NAME"
        }
        guard words.count >= 2 else { return "error \(shown(verb, 20)): which event? (\(shown(verb, 20)) NAME)" }
        let name = words[1]
        guard let index = server.eventNames.firstIndex(of: name) else {
            return "error no event \"\(shown(name, 40))\"; the events are: " + server.eventNames.joined(separator: ", ")
        }
        switch (verb, words.count) {
        case ("signal", 2):
            return "\(name) \(server.signal(index))"
        case ("count", 2):
            return "\(name) \(server.counter(index))"
        case ("wait", 3), ("wait", 4):
            guard let after = UInt64(words[2]) else { return "error wait \(name): AFTER must be a count such as 0" }
            let seconds = words.count == 4 ? Double(words[3]) : 60
            guard let seconds, seconds.isFinite, (0...3600).contains(seconds) else {
                return "error wait \(name): SECONDS must be from 0 to 3600"
            }
            if let count = server.wait(index, after: after, timeout: seconds) { return "\(name) \(count)" }
            return "timeout \(name) \(server.counter(index))"
        default:
            return "error \"\(shown(line, 60))\": expected signal NAME, wait NAME AFTER [SECONDS] or count NAME"
        }
    }

    /// What of a line goes back into an answer: its start, control characters
    /// as "?" (an answer is one printable line, whatever was sent).
    static func shown(_ text: String, _ limit: Int) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit).map { $0.value < 0x20 || $0.value == 0x7f ? "?" : $0 }))
    }
}
