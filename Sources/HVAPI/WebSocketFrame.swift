import Foundation
import HVCore

/// WebSocket frames (RFC 6455) as the System Manager receives them from a
/// browser. Strict: reserved bits clear, known opcodes, client frames
/// masked, control frames short and unfragmented, the 64-bit length's top
/// bit clear, payloads bounded. Reading goes through `next`, which returns
/// exactly the bytes asked for, so the same code runs on a socket and
/// under the fuzzer.
public enum WebSocketFrame {
    public enum Opcode: UInt8, Sendable { case continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 }

    public struct Frame: Sendable, Equatable {
        public var opcode: Opcode
        public var payload: [UInt8]
        public var fin: Bool
    }

    public struct Invalid: Error, Sendable, Equatable {
        public var reason: String
        /// The close code to send back (1002 protocol error, 1009 too big).
        public var closeCode: UInt16
    }

    public static let maxPayload = 1 << 20

    public static func readClientFrame(_ next: (Int) throws -> [UInt8]) throws -> Frame {
        let head = try next(2)
        guard head.count == 2 else { throw Invalid(reason: "short frame head", closeCode: 1002) }
        guard head[0] & 0x70 == 0 else { throw Invalid(reason: "reserved bits set", closeCode: 1002) }
        guard let opcode = Opcode(rawValue: head[0] & 0x0f) else { throw Invalid(reason: "unknown opcode", closeCode: 1002) }
        let fin = head[0] & 0x80 != 0
        guard head[1] & 0x80 != 0 else { throw Invalid(reason: "a client frame must be masked", closeCode: 1002) }
        var length = Int(head[1] & 0x7f)
        if length == 126 {
            let ext = try next(2)
            guard ext.count == 2 else { throw Invalid(reason: "short length", closeCode: 1002) }
            length = Int(ext[0]) << 8 | Int(ext[1])
        } else if length == 127 {
            let ext = try next(8)
            guard ext.count == 8, ext[0] & 0x80 == 0 else { throw Invalid(reason: "bad 64-bit length", closeCode: 1002) }
            guard ext[0...4].allSatisfy({ $0 == 0 }) else { throw Invalid(reason: "frame too large", closeCode: 1009) }
            length = ext.reduce(0) { $0 << 8 | Int($1) }
        }
        if opcode.rawValue >= 8 {
            guard fin, length <= 125 else { throw Invalid(reason: "a control frame must be whole and at most 125 bytes", closeCode: 1002) }
        }
        guard length <= maxPayload else { throw Invalid(reason: "frame larger than \(maxPayload) bytes", closeCode: 1009) }
        let mask = try next(4)
        guard mask.count == 4 else { throw Invalid(reason: "short mask", closeCode: 1002) }
        var payload = try next(length)
        guard payload.count == length else { throw Invalid(reason: "short payload", closeCode: 1002) }
        for i in payload.indices { payload[i] ^= mask[i & 3] }
        return Frame(opcode: opcode, payload: payload, fin: fin)
    }

    /// A server frame (never masked).
    public static func encode(_ payload: [UInt8], opcode: Opcode = .binary) -> Data {
        var out: [UInt8] = [0x80 | opcode.rawValue]
        switch payload.count {
        case ..<126: out.append(UInt8(payload.count))
        case ..<65536: out += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        default:
            out.append(127)
            out += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        return Data(out + payload)
    }
}
