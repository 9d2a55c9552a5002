import Foundation
import HVCore
import Testing

@testable import HVEvents

/// The event session's line protocol against a stand-in events server.
@Suite struct EventSessionTests {
    final class Events: EventServing, @unchecked Sendable {
        let eventNames = ["ping", "pong"]
        private let counts = Monitor([UInt64](repeating: 0, count: 2))
        func signal(_ index: Int) -> UInt64 {
            counts.withLock {
                $0[index] += 1
                return $0[index]
            }
        }
        func counter(_ index: Int) -> UInt64 { counts.withLock { $0[index] } }
        func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64? {
            counts.wait(until: Date().addingTimeInterval(timeout), for: { $0[index] > seen }) { $0[index] > seen ? $0[index] : nil }
        }
    }

    @Test func aLineInALineOut() {
        let e = Events()
        func say(_ line: String) -> String { EventLines.answer(line, server: e) }
        #expect(say("count ping") == "ping 0")
        #expect(say("signal ping") == "ping 1")
        #expect(say("signal ping\r") == "ping 2", "a CRLF line too")
        #expect(say("wait ping 1 0") == "ping 2", "already past: at once")
        #expect(say("wait pong 0 0.2") == "timeout pong 0")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { _ = e.signal(1) }
        #expect(say("wait pong 0 10") == "pong 1")
        #expect(say("signal nosuch").hasPrefix("error no event \"nosuch\"; the events are: ping, pong"))
        #expect(say("").hasPrefix("error an empty line"))
        #expect(say("signal").hasPrefix("error signal: which event?"))
        #expect(say("wait ping x").hasPrefix("error wait ping: AFTER must be a count"))
        #expect(say("wait ping 0 99999").hasPrefix("error wait ping: SECONDS must be from 0 to 3600"))
        #expect(say("wait ping 0 nan").hasPrefix("error wait ping: SECONDS"))
        #expect(say("launch ping").hasPrefix("error \"launch ping\": expected"))
        #expect(say("bogus").hasPrefix("error \"bogus\": expected"))
        #expect(say("signal ping extra").hasPrefix("error \"signal ping extra\": expected"))
        #expect(
            say("\u{1b}]0;owned\u{7}") == "error \"?]0;owned?\": expected signal NAME, wait NAME AFTER [SECONDS] or count NAME",
            "what is echoed back is printable: a terminal reading the session gets no escape sequence")
        #expect(say("signal \u{1b}[2J") == "error no event \"?[2J\"; the events are: ping, pong")
        #expect(say("wait ping 0 1e309").hasPrefix("error wait ping: SECONDS"))
        #expect(e.counter(0) == 2, "no error changed a count")
    }
}
