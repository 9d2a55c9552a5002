// libFuzzer target: an HTTP request head, as hvd's listeners parse it, then
// the route match. Any input must end in a request or an HTTPError, never a trap.
import Foundation

@Sendable func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    if let req = try? HTTPHead.parseRequest(bytes) {
        _ = try? HTTPHead.contentLength(req.headers, limits: .server)
        if let segments = try? req.segments() { _ = Endpoint.match(method: req.method, segments: segments) }
    }
    return 0
}
