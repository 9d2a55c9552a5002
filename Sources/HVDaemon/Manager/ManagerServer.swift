import Foundation
import HVAPI
import HVCore
import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// The System Manager: the web page and the same JSON API as the Unix
/// socket, on loopback TCP. Every API request needs a credential as
/// `Authorization: Bearer` (ManagerCredentials): the manager token
/// (run/manager.token, root only) for everything, the metrics token for
/// `GET /v1/metrics` alone. The page gets the manager token by exchanging
/// the single-use login code of its address (`/#code=`, from `hv manager
/// url`) and keeps it in the tab's session storage. The event stream and
/// WebSockets use single-use tickets the page asks for with the token
/// (`POST /v1/tickets`). Requests that change something must also carry
/// `X-HV-Request: 1` (a page of another site cannot send it without a CORS
/// preflight, which hvd never grants) and, when the browser says where it
/// comes from, an Origin of this server.
final class ManagerServer: @unchecked Sendable {
    static let defaultPort = 7480
    let ctx: DaemonContext
    let routes: Routes
    let port: Int
    let credentials: ManagerCredentials
    var tickets: TicketBook { credentials.tickets }

    init(ctx: DaemonContext, routes: Routes) throws {
        self.ctx = ctx
        self.routes = routes
        port = Self.configuredPort(ctx.layout)
        credentials = try ManagerCredentials(layout: ctx.layout)
        ctx.credentials = credentials
    }

    /// `[Manager] "Port"` of config/manager.config.
    static func configuredPort(_ layout: HostLayout) -> Int {
        ((try? RegistryFile.readIfPresent(layout.managerConfig)) ?? nil)?.value("Manager", "Port").flatMap { Int($0) } ?? defaultPort
    }

    func start() {
        do {
            let listener = try UnixSocket.listenLoopback(port: port)
            ctx.managerPort = port
            ctx.log.info("System Manager on http://127.0.0.1:\(port)/ (hv manager url prints an address to open it)")
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
        // The page, its style and script, and noVNC are public files: no secret in them.
        if req.method == "GET", let asset = Self.assets[req.path] {
            return reply(
                conn,
                HTTPResponse(
                    status: 200, body: Data(asset.body.utf8),
                    headers: [
                        "Content-Type": asset.type, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                        "Content-Security-Policy":
                            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                        "X-Frame-Options": "DENY",
                    ]))
        }
        if req.method == "GET" && req.path.hasPrefix("/novnc/") { return serveNoVNC(conn, path: req.path) }
        let match = Endpoint.match(method: req.method, segments: (try? req.segments()) ?? [])
        let access = self.access(req)
        // The event stream and the page's WebSockets cannot send a header: a ticket instead.
        if case .endpoint(let e) = match {
            switch e {
            case .watch, .consoleSocket, .displaySocket:
                guard access == .full || tickets.redeem(req.query["ticket"] ?? "") else { return reply(conn, denied()) }
                return credentials.tracking(conn) {
                    if case .consoleSocket(let ref) = e { return serveConsole(conn, reader, req, ref: ref) }
                    if case .displaySocket(let ref) = e { return serveDisplay(conn, reader, req, ref: ref) }
                    return watch(conn)
                }
            default: break
            }
        }
        // The page's login: its code is the credential (single use), no token yet.
        if case .endpoint(.managerLogin) = match, req.headers["x-hv-request"] == "1" {
            return reply(conn, login(req))
        }
        // The metrics token reads the metrics, nothing else.
        if access == .metrics, match != .endpoint(.metrics) {
            return reply(
                conn,
                HTTPResponse.json(
                    APIErrorBody(
                        HVError(
                            .invalidArgument, "the metrics token reads GET /v1/metrics only",
                            hint: "use the manager token (hv manager url opens the page)")), status: 403))
        }
        guard access != .none else { return reply(conn, denied()) }
        guard req.path.hasPrefix("/v1/") else { return reply(conn, .error(HVError(.notFound, "no page \(req.path)"))) }
        if req.method != "GET" {
            guard req.headers["x-hv-request"] == "1" else {
                return reply(
                    conn,
                    HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, "a request that changes something needs the header X-HV-Request: 1")), status: 403)
                )
            }
            if let origin = req.headers["origin"], !["http://127.0.0.1:\(port)", "http://localhost:\(port)"].contains(origin) {
                return reply(conn, HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, "requests from \(origin) are refused")), status: 403))
            }
        }
        if case .endpoint(.ticket) = match {
            guard let t = tickets.issue() else {
                return reply(conn, HTTPError(503, "too many tickets outstanding; try again in a minute").response)
            }
            return reply(conn, .json(TicketResponse(ticket: t, expiresInSeconds: Int(tickets.lifetime))))
        }
        switch routes.handle(req, peerPid: nil, listener: "manager") {
        case .response(let r): reply(conn, r)
        case .console: reply(conn, .error(HVError(.unsupported, "consoles are not served over TCP yet; use hv guest console")))
        case .eventSession: reply(conn, .error(HVError(.unsupported, "event sessions are served on hvd's Unix socket only; use hv event session")))
        }
    }

    var allowedHosts: [String] { ["127.0.0.1:\(port)", "localhost:\(port)"] }

    /// A token as `Authorization: Bearer`, nothing else: never a cookie
    /// (cookies ignore ports, so every local web server would get it).
    func access(_ req: HTTPRequest) -> ManagerCredentials.Access {
        guard let auth = req.headers["authorization"], auth.hasPrefix("Bearer ") else { return .none }
        return credentials.access(String(auth.dropFirst(7)))
    }

    /// A login code for the manager token; a wrong, used or expired one is refused alike.
    func login(_ req: HTTPRequest) -> HTTPResponse {
        guard let body = try? APIJSON.decode(ManagerLoginRequest.self, req.body), let token = credentials.login(code: body.code) else {
            return HTTPResponse.json(
                APIErrorBody(
                    HVError(
                        .invalidArgument, "this login code is not valid (each works once, for two minutes)",
                        hint: "run `hv manager url` again and open the address it prints")), status: 401)
        }
        ctx.log.info("System Manager: a login code was exchanged for the token")
        return .json(ManagerLoginResponse(token: token))
    }

    static let assets: [String: (type: String, body: String)] = [
        "/": ("text/html; charset=utf-8", ManagerAssets.html),
        "/manager.css": ("text/css; charset=utf-8", ManagerAssets.css),
        "/manager.js": ("text/javascript; charset=utf-8", ManagerAssets.script),
    ]

    func denied() -> HTTPResponse {
        HTTPResponse.json(
            APIErrorBody(
                HVError(
                    .invalidArgument, "a valid token is needed",
                    hint: "open the address that `hv manager url` prints (its code works once)")), status: 401)
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
