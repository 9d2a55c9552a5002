import Foundation
import HVAPI
import HVCore

/// The part of WebSocket (RFC 6455) the System Manager's console uses:
/// the handshake, and frames in both directions (client frames are masked).
enum WebSocket {
    static func acceptKey(_ key: String) -> String {
        Data(SHA1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }

    typealias Opcode = WebSocketFrame.Opcode

    static func frame(_ payload: [UInt8], opcode: Opcode = .binary) -> Data {
        WebSocketFrame.encode(payload, opcode: opcode)
    }

    /// Reads one frame from the browser (nil at the end of the stream or on
    /// a frame that breaks the protocol: the connection is then closed).
    /// An idle page sends nothing for long; an hour without a byte ends it.
    static func readFrame(_ reader: LineReader) -> (Opcode, [UInt8])? {
        guard let f = try? WebSocketFrame.readClientFrame({ try reader.readExactly($0, timeout: 3600) }) else { return nil }
        return (f.opcode, f.payload)
    }
}

/// SHA-1 for the WebSocket handshake only (not for anything secret).
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var m = message + [0x80]
        while m.count % 64 != 56 { m.append(0) }
        let bits = UInt64(message.count) * 8
        m += (0..<8).reversed().map { UInt8(truncatingIfNeeded: bits >> (UInt64($0) * 8)) }
        for chunk in stride(from: 0, to: m.count, by: 64) {
            var w = (0..<16).map { i in (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(m[chunk + i * 4 + $1]) } }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w.append(x << 1 | x >> 31)
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32) =
                    switch i {
                    case ..<20: ((b & c) | (~b & d), 0x5A82_7999)
                    case ..<40: (b ^ c ^ d, 0x6ED9_EBA1)
                    case ..<60: ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                    default: (b ^ c ^ d, 0xCA62_C1D6)
                    }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, t)
            }
            h = [h[0] &+ a, h[1] &+ b, h[2] &+ c, h[3] &+ d, h[4] &+ e]
        }
        return h.flatMap { v in (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (UInt32($0) * 8)) } }
    }
}
