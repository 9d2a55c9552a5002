import Foundation
import HVCore
import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// What a request on the System Manager's port may present, and what each
/// is worth:
/// - the manager token (run/manager.token): everything the API does;
/// - the metrics token (run/metrics.token): `GET /v1/metrics` and nothing
///   else, so Prometheus holds no credential that changes anything;
/// - a login code: single use, two minutes, exchanged by the page for the
///   manager token. `hv manager url` puts a code in the address, never the
///   token, so a browser's history keeps only a spent code.
/// Both tokens survive hvd restarts (open pages keep working) and are
/// replaced by `hv manager token --rotate`, which also voids every
/// outstanding login code and ticket and ends the streams opened with the
/// old token (event streams, consoles, desktops): a leaked token's open
/// console does not outlive its rotation.
final class ManagerCredentials: @unchecked Sendable {
    enum Access: Equatable { case none, metrics, full }
    enum Credential: String, Codable, CaseIterable { case manager, metrics }

    static let loginCodeLifetime: TimeInterval = 120
    let layout: HostLayout
    let loginCodes = TicketBook(lifetime: loginCodeLifetime)
    let tickets = TicketBook(lifetime: TicketBook.lifetime)
    private let lock = NSLock()
    private var manager: String
    private var metrics: String
    /// The page's long-lived connections, ended by a rotation of the manager token.
    private var streams: [Int: UnixSocket] = [:]
    private var nextStream = 0

    init(layout: HostLayout) throws {
        self.layout = layout
        manager = try Self.provide(layout.managerToken)
        metrics = try Self.provide(layout.metricsToken)
    }

    func access(_ bearer: String) -> Access {
        lock.lock()
        defer { lock.unlock() }
        // Both compared in constant time, whichever matches.
        let isManager = constantTimeEqual(bearer, manager), isMetrics = constantTimeEqual(bearer, metrics)
        return isManager ? .full : isMetrics ? .metrics : .none
    }

    /// A login code, exchanged once for the manager token.
    func login(code: String) -> String? {
        guard loginCodes.redeem(code) else { return nil }
        lock.lock()
        defer { lock.unlock() }
        return manager
    }

    /// A new token in place of the old, written before it is used: a crash
    /// in between leaves the old token valid or the new one, never none.
    func rotate(_ which: Credential) throws {
        let url = which == .manager ? layout.managerToken : layout.metricsToken
        let fresh = try Self.random()
        try AtomicFile.write(fresh + "\n", to: url, mode: 0o600)
        lock.lock()
        if which == .manager { manager = fresh } else { metrics = fresh }
        lock.unlock()
        if which == .manager {
            loginCodes.revokeAll()
            tickets.revokeAll()
            lock.lock()
            let open = streams.values
            lock.unlock()
            for conn in open { conn.shutdown() }
        }
    }

    /// Runs `body` (a stream) with `conn` ended by the next rotation of the manager token.
    func tracking<T>(_ conn: UnixSocket, _ body: () -> T) -> T {
        lock.lock()
        let id = nextStream
        nextStream += 1
        streams[id] = conn
        lock.unlock()
        defer {
            lock.lock()
            streams.removeValue(forKey: id)
            lock.unlock()
        }
        return body()
    }

    /// The token in `url` (64 hex digits), made when missing or malformed.
    static func provide(_ url: URL) throws -> String {
        if let t = try? String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            t.count == 64, t.allSatisfy(\.isHexDigit)
        {
            return t
        }
        let t = try random()
        try AtomicFile.write(t + "\n", to: url, mode: 0o600)
        return t
    }

    /// 32 random bytes, hex.
    static func random() throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HVError.posix("open /dev/urandom", errno: errno) }
        defer { close(fd) }
        guard read(fd, &bytes, 32) == 32 else { throw HVError.posix("read /dev/urandom", errno: errno) }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
