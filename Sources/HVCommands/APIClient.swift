import Foundation
import HVAPI
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// The CLI's side of hvd's API. Starts hvd when it is not running.
struct APIClient {
    let layout: HostLayout

    /// `start: false` only reaches a running hvd (read-only questions).
    func connect(start: Bool = true) throws -> UnixSocket {
        if let s = try? UnixSocket.connect(to: layout.daemonSocket.path, timeout: 0) { return s }
        guard start else { throw HVError(.daemonUnavailable, "hvd is not running") }
        try startDaemon()
        do { return try UnixSocket.connect(to: layout.daemonSocket.path, timeout: 10) } catch {
            throw HVError(
                .daemonUnavailable, "hvd did not come up: \(error)",
                hint: "see \(layout.daemonLog.path)")
        }
    }

    func startDaemon() throws {
        // Where hvd is an installed service, systemd starts it (its environment,
        // cgroup, journal and restart policy); `systemctl start` returns once it is ready.
        if SystemdService.manages(layout) {
            let out = try Command.run(["systemctl", "start", SystemdService.daemonUnit], timeout: 120)
            guard out.status == 0 else {
                throw HVError(
                    .daemonUnavailable, "systemctl start \(SystemdService.daemonUnit) failed: \(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines))",
                    hint: "journalctl -u \(SystemdService.daemonUnit) -n 50 says why")
            }
            return
        }
        try layout.ensureDirectories()
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("hvd")
        let hvd = FileManager.default.isExecutableFile(atPath: exe.path) ? exe.path : "hvd"
        var env = ProcessInfo.processInfo.environment
        env["HV_ROOT"] = layout.root.path
        _ = try Spawn.detached([hvd], log: layout.daemonLog, environment: env)
    }

    func request(_ endpoint: Endpoint, query: [String: String] = [:], body: Data = Data(), timeout: Double = 600, start: Bool = true) throws -> Data {
        let (method, path) = (endpoint.method, endpoint.path)
        let conn = try connect(start: start)
        defer { conn.close() }
        try conn.write(HTTPRequest(method: method, path: path, query: query, body: body).serialized())
        let resp = try HTTPResponse.read(from: LineReader(conn), timeout: timeout)
        guard resp.status == 200 else {
            if let err = try? JSONDecoder().decode(APIErrorBody.self, from: resp.body) { throw err.error }
            throw HVError(.daemonUnavailable, "hvd answered \(resp.status) to \(method) \(path)")
        }
        return resp.body
    }

    func get<R: Decodable>(_ endpoint: Endpoint, as: R.Type) throws -> R {
        try decode(R.self, try request(endpoint))
    }

    /// A GET only if hvd is already running: read-only commands (an audit)
    /// should not leave a daemon behind just to ask.
    func peek<R: Decodable>(_ endpoint: Endpoint, as: R.Type) -> R? {
        try? decode(R.self, try request(endpoint, start: false))
    }

    func post<R: Decodable, B: Encodable>(_ endpoint: Endpoint, _ body: B, as: R.Type, timeout: Double = 600) throws -> R {
        try decode(R.self, try request(endpoint, body: APIJSON.encode(body), timeout: timeout))
    }

    func put<B: Codable>(_ endpoint: Endpoint, _ body: B) throws -> B {
        try decode(B.self, try request(endpoint, body: APIJSON.encode(body)))
    }

    func get<R: Decodable>(_ endpoint: Endpoint, query: [String: String], as: R.Type, timeout: Double = 600, start: Bool = true) throws -> R {
        try decode(R.self, try request(endpoint, query: query, timeout: timeout, start: start))
    }

    private func decode<R: Decodable>(_ t: R.Type, _ data: Data) throws -> R {
        do { return try JSONDecoder().decode(R.self, from: data) } catch {
            throw HVError(
                .daemonUnavailable, "hvd's answer did not decode: \(error)",
                hint: "hv and hvd must come from the same build (hv install)")
        }
    }

    /// Opens a console stream: the connection after hvd switched protocols,
    /// and the first bytes of the stream if they came with hvd's answer.
    func openConsole(_ ref: String, replay: String, client: String) throws -> (UnixSocket, Data) {
        try openStream(.guestConsole(ref), query: ["replay": replay], headers: ["X-HV-Client": client])
    }

    /// Sends `endpoint` and returns the connection once hvd switched protocols (101).
    func openStream(_ endpoint: Endpoint, query: [String: String] = [:], headers: [String: String] = [:]) throws -> (UnixSocket, Data) {
        let conn = try connect()
        let req = HTTPRequest(method: endpoint.method, path: endpoint.path, query: query, headers: headers)
        try conn.write(req.serialized())
        let reader = LineReader(conn)
        let resp = try HTTPResponse.read(from: reader, timeout: 30)
        guard resp.status == 101 else {
            conn.close()
            if let err = try? JSONDecoder().decode(APIErrorBody.self, from: resp.body) { throw err.error }
            throw HVError(.daemonUnavailable, "hvd answered \(resp.status) to \(endpoint.path)")
        }
        return (conn, reader.takeBuffered())
    }
}
