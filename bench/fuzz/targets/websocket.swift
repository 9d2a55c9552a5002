// libFuzzer target: a stream of browser WebSocket frames.
import Foundation

@Sendable func fuzzWebSocket(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeBufferPointer(start: data, count: size))
    var offset = 0
    struct End: Error {}
    while offset < bytes.count {
        let next: (Int) throws -> [UInt8] = { n in
            guard n >= 0, n <= bytes.count - offset else { throw End() }
            defer { offset += n }
            return Array(bytes[offset..<(offset + n)])
        }
        guard (try? WebSocketFrame.readClientFrame(next)) != nil else { break }
    }
    return 0
}
