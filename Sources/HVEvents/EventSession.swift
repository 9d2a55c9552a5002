import Foundation
import HVAPI
import HVCore

extension IvshmemServer: EventServing {
    public var eventNames: [String] { table.names }
    public func counter(_ index: Int) -> UInt64 { table.counter(index) }
}

/// `hv event session`: one connection for many events, so a host program
/// signals and waits without an HTTP request per event. After `POST
/// /v1/events/session` answers 101, each line in gets one line back
/// (`EventLines`); a line of more than `EventLines.maxLine` bytes ends it.
public enum EventSession {
    public static func serve(_ conn: UnixSocket, reader: LineReader, server: any EventServing) {
        let head = HTTPResponse(status: 101, headers: ["Upgrade": "hv-events", "Connection": "Upgrade"])
        guard (try? conn.write(head.serialized())) != nil else { return }
        while true {
            let line: Data
            do {
                guard let l = try reader.nextLine(maxBytes: EventLines.maxLine, deadline: nil) else { return }
                line = l
            } catch {
                _ = try? conn.write(Data((EventLines.tooLong + "\n").utf8))
                return
            }
            let reply = EventLines.answer(String(decoding: line, as: UTF8.self), server: server)
            guard (try? conn.write(Data((reply + "\n").utf8))) != nil else { return }
        }
    }
}
