import Foundation
import HVCore
import Testing

@testable import QMP

/// A fake QMP server on a real Unix socket: it greets, then answers each
/// command with what `reply` returns (nil: no answer at all).
final class FakeQMPServer: @unchecked Sendable {
    let path: String
    let listener: UnixSocket
    let lock = NSLock()
    var received: [String] = []
    var connection: UnixSocket?

    init(reply: @escaping @Sendable (String, JSONValue) -> [String]?) throws {
        path = "/tmp/hv-fakeqmp-\(UUID().uuidString.prefix(8)).sock"
        listener = try UnixSocket.listen(at: path)
        let t = Thread { [self] in
            guard let conn = try? listener.accept() else { return }
            lock.lock()
            connection = conn
            lock.unlock()
            try? conn.write(#"{"QMP": {"version": {"qemu": {"micro": 19, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}"# + "\r\n")
            let reader = LineReader(conn)
            while let line = try? reader.nextLine(), let msg = try? JSONValue(parsing: line) {
                let cmd = msg["execute"]?.string ?? "?"
                lock.lock()
                received.append(cmd)
                lock.unlock()
                guard let lines = reply(cmd, msg) else { continue }
                let id = msg["id"].flatMap { try? String(decoding: $0.serialized(), as: UTF8.self) } ?? "null"
                for l in lines { try? conn.write(l.replacingOccurrences(of: "$ID", with: id) + "\r\n") }
            }
        }
        t.start()
    }

    func closeClient() {
        lock.lock()
        connection?.shutdown()
        lock.unlock()
    }

    deinit {
        listener.close()
        unlink(path)
    }
}

@Suite struct QMPClientTests {
    @Test func negotiatesAndMatchesAnswersById() throws {
        let server = try FakeQMPServer { cmd, _ in
            switch cmd {
            case "qmp_capabilities": [#"{"return": {}, "id": $ID}"#]
            case "query-status":
                // An event arrives before the answer; the answer still finds its caller.
                [
                    #"{"event": "RESET", "data": {"guest": false}, "timestamp": {"seconds": 1, "microseconds": 2}}"#,
                    #"{"return": {"status": "running", "running": true}, "id": $ID}"#,
                ]
            case "query-cpus-fast": [#"{"return": [{"cpu-index": 0, "thread-id": 4242}], "id": $ID}"#]
            default: [#"{"error": {"class": "CommandNotFound", "desc": "The command \#(cmd) has not been found"}, "id": $ID}"#]
            }
        }
        let events = EventBox()
        let client = try QMPClient(path: server.path, timeout: 2, onEvent: { events.add($0) })
        #expect(client.version == "7.2.19")
        let status = try client.execute("query-status")
        #expect(status["status"]?.string == "running")
        #expect(status["running"]?.bool == true)
        #expect(try client.execute("query-cpus-fast").array?.first?["thread-id"]?.int == 4242)
        #expect(events.names == ["RESET"])
        // A refusal keeps QEMU's class and words, and names the command.
        let refused = #expect(throws: QMPError.self) { try client.execute("no-such-command") }
        #expect(refused == QMPError(errorClass: "CommandNotFound", desc: "The command no-such-command has not been found", command: "no-such-command"))
        #expect(refused?.hvError.code == .io && refused?.description.contains("QEMU refused no-such-command") == true)
        #expect(server.received == ["qmp_capabilities", "query-status", "query-cpus-fast", "no-such-command"])
        client.close()
    }

    @Test func aSilentServerTimesOut() throws {
        let server = try FakeQMPServer { cmd, _ in cmd == "qmp_capabilities" ? [#"{"return": {}, "id": $ID}"#] : nil }
        let client = try QMPClient(path: server.path, timeout: 2)
        let t0 = Date()
        #expect { try client.execute("system_powerdown", timeout: 0.3) } throws: { ($0 as? HVError)?.code == .timeout }
        #expect(Date().timeIntervalSince(t0) < 2)
        client.close()
    }

    @Test func aClosedConnectionFailsWaitersAndReportsClose() throws {
        let closed = EventBox()
        let server = try FakeQMPServer { cmd, _ in cmd == "qmp_capabilities" ? [#"{"return": {}, "id": $ID}"#] : nil }
        let client = try QMPClient(path: server.path, timeout: 2, onClose: { closed.add(QMPEvent(name: "closed", data: .null)) })
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { server.closeClient() }
        #expect { try client.execute("query-status", timeout: 5) } throws: { ($0 as? HVError)?.message.contains("closed") == true }
        for _ in 0..<50 where closed.names.isEmpty { usleep(20_000) }
        #expect(closed.names == ["closed"])
        #expect(client.isClosed)
    }

    @Test func aServerThatIsNotQMPIsRefused() throws {
        let path = "/tmp/hv-notqmp-\(UUID().uuidString.prefix(8)).sock"
        let listener = try UnixSocket.listen(at: path)
        defer {
            listener.close()
            unlink(path)
        }
        Thread.detachNewThread {
            if let c = try? listener.accept() {
                try? c.write("hello\n")
                sleep(1)
            }
        }
        #expect(throws: HVError.self) { _ = try QMPClient(path: path, timeout: 1) }
    }

    @Test func jsonValuesKeepBooleansAndNumbersApart() throws {
        let v = try JSONValue(parsing: Data(#"{"a": true, "b": 1, "c": 1.5, "d": [false, null, "x"]}"#.utf8))
        #expect(v["a"] == .bool(true))
        #expect(v["b"] == .number(1))
        #expect(v["c"] == .number(1.5))
        #expect(v["d"] == .array([.bool(false), .null, .string("x")]))
    }
}

final class EventBox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [QMPEvent] = []
    func add(_ e: QMPEvent) {
        lock.lock()
        events.append(e)
        lock.unlock()
    }
    var names: [String] {
        lock.lock()
        defer { lock.unlock() }
        return events.map(\.name)
    }
}
