import Foundation
import HVCore

/// Short-lived, single-use tickets for the requests a browser cannot add a
/// header to (EventSource, WebSocket): asked for with the token, good once,
/// for `lifetime` seconds. Bounded, so asking cannot fill hvd's memory.
/// The System Manager's login codes are the same, longer-lived.
final class TicketBook: @unchecked Sendable {
    static let lifetime: TimeInterval = 30
    static let maxOutstanding = 256
    let lifetime: TimeInterval
    private let lock = NSLock()
    private var issued: [String: Date] = [:]

    init(lifetime: TimeInterval) { self.lifetime = lifetime }

    func issue() -> String? {
        let t = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        issued = issued.filter { $0.value > now }
        guard issued.count < Self.maxOutstanding else { return nil }
        issued[t] = now.addingTimeInterval(lifetime)
        return t
    }

    /// None of the outstanding ones is good any more (the token they were asked with was replaced).
    func revokeAll() {
        lock.lock()
        defer { lock.unlock() }
        issued = [:]
    }

    func redeem(_ ticket: String) -> Bool {
        guard ticket.count == 64 else { return false }
        lock.lock()
        defer { lock.unlock() }
        guard let expiry = issued.removeValue(forKey: ticket) else { return false }
        return expiry > Date()
    }
}

struct TicketResponse: Codable {
    var ticket: String
    var expiresInSeconds: Int
}
