import Foundation

/// The 48-byte NTP header (RFC 5905), as hvd's clock server reads a guest's
/// requests and its probe reads a guest's answers. Bytes from a guest: only
/// the fixed header is read, anything shorter is refused, anything after it
/// (extension fields, a MAC) is ignored.
public struct NTPPacket: Sendable, Equatable {
    public static let size = 48
    public enum Mode: UInt8, Sendable { case client = 3, server = 4 }

    public var leap: UInt8 = 0
    public var version: UInt8 = 4
    public var mode: UInt8
    public var stratum: UInt8 = 0
    public var poll: Int8 = 0
    public var precision: Int8 = 0
    public var rootDelay: UInt32 = 0
    public var rootDispersion: UInt32 = 0
    public var referenceID: UInt32 = 0
    public var reference: UInt64 = 0
    public var origin: UInt64 = 0
    public var receive: UInt64 = 0
    public var transmit: UInt64 = 0

    public init(mode: UInt8) { self.mode = mode }

    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= Self.size else { return nil }
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) << 32 | UInt64(u32(at + 4)) }
        leap = bytes[0] >> 6
        version = (bytes[0] >> 3) & 7
        mode = bytes[0] & 7
        stratum = bytes[1]
        poll = Int8(bitPattern: bytes[2])
        precision = Int8(bitPattern: bytes[3])
        rootDelay = u32(4)
        rootDispersion = u32(8)
        referenceID = u32(12)
        reference = u64(16)
        origin = u64(24)
        receive = u64(32)
        transmit = u64(40)
    }

    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.size)
        func put32(_ v: UInt32, _ at: Int) { for i in 0..<4 { b[at + i] = UInt8((v >> (24 - 8 * UInt32(i))) & 0xff) } }
        func put64(_ v: UInt64, _ at: Int) {
            put32(UInt32(v >> 32), at)
            put32(UInt32(v & 0xffff_ffff), at + 4)
        }
        b[0] = (leap & 3) << 6 | (version & 7) << 3 | (mode & 7)
        b[1] = stratum
        b[2] = UInt8(bitPattern: poll)
        b[3] = UInt8(bitPattern: precision)
        put32(rootDelay, 4)
        put32(rootDispersion, 8)
        put32(referenceID, 12)
        put64(reference, 16)
        put64(origin, 24)
        put64(receive, 32)
        put64(transmit, 40)
        return b
    }

    /// Seconds between 1900 (NTP's era 0) and 1970.
    static let unixOffset: UInt64 = 2_208_988_800

    /// A time as NTP's 32.32 fixed point.
    public static func timestamp(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds >= 0, seconds < 4_000_000_000 else { return 0 }
        let whole = seconds.rounded(.down)
        let frac = UInt64((seconds - whole) * 4_294_967_296.0) & 0xffff_ffff
        return (UInt64(whole) &+ unixOffset) << 32 | frac
    }

    public static func seconds(_ t: UInt64) -> Double {
        Double(Int64(bitPattern: (t >> 32) &- unixOffset)) + Double(t & 0xffff_ffff) / 4_294_967_296.0
    }

    /// hvd's answer to a client's request, or nil when `request` is no client request.
    /// `received` and `now` are the host's clock (Unix seconds).
    public static func answer(_ request: [UInt8], received: Double, now: Double) -> NTPPacket? {
        guard let q = NTPPacket(request), q.mode == Mode.client.rawValue, (1...4).contains(q.version) else { return nil }
        var a = NTPPacket(mode: Mode.server.rawValue)
        a.version = q.version
        // The host's clock is the reference the guests follow, whatever the host follows itself.
        a.stratum = 1
        a.poll = q.poll
        a.precision = -20
        a.rootDispersion = 0x0000_0042  // about 1 ms, in 16.16 seconds
        a.referenceID = 0x4856_4844  // "HVHD"
        a.reference = timestamp(received)
        a.origin = q.transmit
        a.receive = timestamp(received)
        a.transmit = timestamp(now)
        return a
    }

    /// A guest clock's offset from the host's and the round trip, from its answer
    /// to a request sent at `sent` (host clock) with transmit timestamp `sentStamp`,
    /// received at `received`. Nil when the bytes are no answer to that request.
    public static func offset(answer: [UInt8], sentStamp: UInt64, sent: Double, received: Double) -> (offset: Double, delay: Double)? {
        guard let a = NTPPacket(answer), a.mode == Mode.server.rawValue, a.origin == sentStamp,
            a.receive != 0, a.transmit != 0
        else { return nil }
        let t2 = seconds(a.receive), t3 = seconds(a.transmit)
        let delay = (received - sent) - (t3 - t2)
        guard delay.isFinite, delay >= -0.001, t3 >= t2 - 0.001 else { return nil }
        return (((t2 - sent) + (t3 - received)) / 2, max(0, delay))
    }
}
