import Foundation
import HVCore

/// What an event session needs of the events server (IvshmemServer; a fake in tests).
protocol EventServing: Sendable {
    var eventNames: [String] { get }
    func signal(_ index: Int) -> UInt64
    func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64?
    func counter(_ index: Int) -> UInt64
}

extension IvshmemServer: EventServing {
    var eventNames: [String] { table.names }
    func counter(_ index: Int) -> UInt64 { table.counter(index) }
}

/// `hv event session`: one connection for many events, so a host program
/// signals and waits without an HTTP request per event. After `POST
/// /v1/events/session` answers 101, each line in gets one line back:
///
///     signal NAME                 → NAME COUNT
///     wait NAME AFTER [SECONDS]   → NAME COUNT   (or: timeout NAME COUNT)
///     count NAME                  → NAME COUNT
///     anything else               → error WHAT   (the session goes on)
///
/// A line is at most 256 bytes; a longer one ends the session.
enum EventSession {
    static let maxLine = 256

    static func serve(_ conn: UnixSocket, reader: LineReader, server: any EventServing) {
        let head = HTTPResponse(status: 101, headers: ["Upgrade": "hv-events", "Connection": "Upgrade"])
        guard (try? conn.write(head.serialized())) != nil else { return }
        while true {
            let line: Data
            do {
                guard let l = try reader.nextLine(maxBytes: maxLine, deadline: nil) else { return }
                line = l
            } catch {
                _ = try? conn.write(Data("error a line is longer than \(maxLine) bytes; the session ends\n".utf8))
                return
            }
            let reply = answer(String(decoding: line, as: UTF8.self), server: server)
            guard (try? conn.write(Data((reply + "\n").utf8))) != nil else { return }
        }
    }

    static func answer(_ line: String, server: any EventServing) -> String {
        let words = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        guard let verb = words.first else { return "error an empty line (signal NAME, wait NAME AFTER [SECONDS], count NAME)" }
        guard ["signal", "wait", "count"].contains(verb) else {
            return "error \"\(line.prefix(60))\": expected signal NAME, wait NAME AFTER [SECONDS] or count NAME"
        }
        guard words.count >= 2 else { return "error \(verb.prefix(20)): which event? (\(verb.prefix(20)) NAME)" }
        let name = words[1]
        guard let index = server.eventNames.firstIndex(of: name) else {
            return "error no event \"\(name.prefix(40))\"; the events are: " + server.eventNames.joined(separator: ", ")
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
            return "error \"\(line.prefix(60))\": expected signal NAME, wait NAME AFTER [SECONDS] or count NAME"
        }
    }
}
