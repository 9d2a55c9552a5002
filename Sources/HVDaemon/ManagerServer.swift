import Foundation
import HVCore
import HVEngine
#if canImport(Glibc)
import Glibc
#endif

/// The System Manager: the web page and the same JSON API as the Unix
/// socket, on loopback TCP. Every request needs the token (run/manager.token,
/// root only): as `?token=` once (the page then keeps it in a SameSite=Strict,
/// HttpOnly cookie) or as `Authorization: Bearer`. Requests that change
/// something must also carry `X-HV-Request: 1` (a page of another site cannot
/// send it without a CORS preflight, which hvd never grants) and, when the
/// browser says where it comes from, an Origin of this server.
final class ManagerServer: @unchecked Sendable {
    static let defaultPort = 7480
    let ctx: DaemonContext
    let routes: Routes
    let port: Int
    let token: String

    init(ctx: DaemonContext, routes: Routes) throws {
        self.ctx = ctx
        self.routes = routes
        port = Self.configuredPort(ctx.layout)
        token = try Self.provideToken(ctx.layout)
    }

    /// `[Manager] "Port"` of config/manager.config.
    static func configuredPort(_ layout: HostLayout) -> Int {
        ((try? RegistryFile.readIfPresent(layout.managerConfig)) ?? nil)?.value("Manager", "Port").flatMap { Int($0) } ?? defaultPort
    }

    /// The token survives hvd restarts (open pages keep working); 32 random bytes, hex.
    static func provideToken(_ layout: HostLayout) throws -> String {
        if let t = try? String(contentsOf: layout.managerToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           t.count == 64 { return t }
        var bytes = [UInt8](repeating: 0, count: 32)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0, read(fd, &bytes, 32) == 32 else { throw HVError.posix("read /dev/urandom", errno: errno) }
        close(fd)
        let t = bytes.map { String(format: "%02x", $0) }.joined()
        try AtomicFile.write(t + "\n", to: layout.managerToken, mode: 0o600)
        return t
    }

    func start() {
        do {
            let listener = try UnixSocket.listenLoopback(port: port)
            ctx.managerPort = port
            ctx.log.info("System Manager on http://127.0.0.1:\(port)/ (hv manager url prints it with its token)")
            Thread.detachNewThread { [self] in
                Listener(listener, name: "127.0.0.1:\(port)", maxConnections: 64).run(log: ctx.log) { [self] conn in serve(conn) }
            }
        } catch {
            ctx.managerProblem = "\(error)"
            ctx.log.info("System Manager not started: \(error) (set another \"Port\" in [Manager] of \(ctx.layout.managerConfig.path))")
        }
    }

    func serve(_ conn: UnixSocket) {
        let reader = LineReader(conn)
        guard let req = readRequest(conn, reader) else { return }
        // DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends its own Host.
        guard let host = req.headers["host"], allowedHosts.contains(host.lowercased()) else {
            return reply(conn, HTTPError(421, "this server answers only as 127.0.0.1:\(port) or localhost:\(port)").response)
        }
        if req.method == "GET" && req.path == "/" && req.query["token"] != nil {
            // Trade the token in the address for a cookie, and drop it from the address bar.
            guard constantTimeEqual(req.query["token"] ?? "", token) else { return reply(conn, denied()) }
            return reply(conn, HTTPResponse(status: 303, headers: [
                "Location": "/", "Set-Cookie": "hv_token=\(token); HttpOnly; SameSite=Strict; Path=/"]))
        }
        guard authorized(req) else { return reply(conn, denied()) }
        switch (req.method, req.path) {
        case ("GET", "/"):
            return reply(conn, HTTPResponse(status: 200, body: Data(ManagerPage.html.utf8), headers: [
                "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                "X-Frame-Options": "DENY"]))
        case ("GET", Endpoint.watch.path):
            return watch(conn)
        default:
            if req.method == "GET" && req.path.hasPrefix("/novnc/") { return serveNoVNC(conn, path: req.path) }
        }
        // Sockets of the page (WebSocket upgrades) are the manager's own endpoints.
        if case .endpoint(let e) = Endpoint.match(method: req.method, segments: (try? req.segments()) ?? []) {
            switch e {
            case .consoleSocket(let ref): return serveConsole(conn, reader, req, ref: ref)
            case .displaySocket(let ref): return serveDisplay(conn, reader, req, ref: ref)
            default: break
            }
        }
        guard req.path.hasPrefix("/v1/") else { return reply(conn, .error(HVError(.notFound, "no page \(req.path)"))) }
        if req.method != "GET" {
            guard req.headers["x-hv-request"] == "1" else {
                return reply(conn, HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, "a request that changes something needs the header X-HV-Request: 1")), status: 403))
            }
            if let origin = req.headers["origin"], !["http://127.0.0.1:\(port)", "http://localhost:\(port)"].contains(origin) {
                return reply(conn, HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, "requests from \(origin) are refused")), status: 403))
            }
        }
        switch routes.handle(req, peerPid: nil) {
        case .response(let r): reply(conn, r)
        case .console: reply(conn, .error(HVError(.unsupported, "consoles are not served over TCP yet; use hv guest console")))
        }
    }

    var allowedHosts: [String] { ["127.0.0.1:\(port)", "localhost:\(port)"] }

    func authorized(_ req: HTTPRequest) -> Bool {
        if let auth = req.headers["authorization"], auth.hasPrefix("Bearer ") {
            return constantTimeEqual(String(auth.dropFirst(7)), token)
        }
        let cookies = (req.headers["cookie"] ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        return cookies.contains { $0.hasPrefix("hv_token=") && constantTimeEqual(String($0.dropFirst(9)), token) }
    }

    func denied() -> HTTPResponse {
        HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, "a valid token is needed",
                                               hint: "open the address that `hv manager url` prints")), status: 401)
    }

    func reply(_ conn: UnixSocket, _ r: HTTPResponse) { try? conn.write(r.serialized()) }

    /// Server-sent events: the guest list (and the VMF) whenever they change,
    /// whoever changed them (the page, the CLI, a guest powering off).
    func watch(_ conn: UnixSocket) {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        guard (try? conn.write(head)) != nil else { return }
        var last = Data()
        var idle = 0
        while true {
            let snapshot = ctx.managerSnapshot()
            let data = APIJSON.encodeCompact(snapshot)
            if data != last || idle >= 30 {
                let text = data == last ? ": keep-alive\n\n" : "event: state\ndata: " + String(decoding: data, as: UTF8.self) + "\n\n"
                guard (try? conn.write(text)) != nil else { return }
                last = data
                idle = 0
            }
            idle += 1
            usleep(500_000)
        }
    }
}

func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}
