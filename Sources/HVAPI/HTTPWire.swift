import Foundation
import HVCore

/// The small part of HTTP/1.1 that hvd's API uses: one request per
/// connection, a JSON body with Content-Length, and an Upgrade that turns the
/// connection into a raw console stream. (`curl --unix-socket` speaks it too.)
///
/// Anyone on the host can send bytes to the System Manager's port (and any
/// web page in the operator's browser can make the browser send some), so
/// the parser is strict and bounded, like Firecracker's micro HTTP server:
/// every limit below answers with a 4xx and a closed connection, never a
/// crash, a hang or unbounded memory. `HTTPHead.parse` is pure and fuzzed.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target's path as sent (still percent-encoded).
    public var path: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: Data

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: Data = Data()) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The path's segments, percent-decoded (so a guest named "Plant HMI" or
    /// "a?b=c" is one segment). Throws on malformed escapes.
    public func segments() throws -> [String] { try HTTPHead.decodeSegments(path) }

    /// Reads one request with one deadline for all of it (a slow client
    /// cannot hold a connection longer than `timeout`); nil when the peer
    /// closed before sending anything. Bytes past the body stay in `reader`.
    public static func read(from reader: LineReader, timeout: Double, limits: HTTPLimits = .server) throws -> HTTPRequest? {
        let deadline = Date().addingTimeInterval(timeout)
        guard let head = try readHead(reader, deadline: deadline, limits: limits) else { return nil }
        var req = try HTTPHead.parseRequest(head, limits: limits)
        req.body = try readBody(reader, length: HTTPHead.contentLength(req.headers, limits: limits), deadline: deadline)
        return req
    }

    public func serialized() -> Data {
        var target = path
        if !query.isEmpty {
            target +=
                "?"
                + query.sorted { $0.key < $1.key }.map {
                    "\(HTTPHead.percentEncode($0.key))=\(HTTPHead.percentEncode($0.value))"
                }.joined(separator: "&")
        }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: hvd\r\nContent-Length: \(body.count)\r\n"
        if !body.isEmpty { head += "Content-Type: application/json\r\n" }
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        return Data(head.utf8) + body
    }
}

/// Bounds on what one request may be.
public struct HTTPLimits: Sendable {
    public var maxLineBytes: Int
    public var maxHeadBytes: Int
    public var maxHeaderCount: Int
    public var maxBodyBytes: Int

    public static let server = HTTPLimits(maxLineBytes: 8192, maxHeadBytes: 32768, maxHeaderCount: 64, maxBodyBytes: 1 << 20)
    /// hvd's answers (read by the CLI): larger bodies (a guest list, a screenshot path), same rules.
    public static let client = HTTPLimits(maxLineBytes: 65536, maxHeadBytes: 131_072, maxHeaderCount: 64, maxBodyBytes: 64 << 20)
}

/// A request or response that breaks the rules; carries the status to answer with.
public struct HTTPError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
    public var response: HTTPResponse {
        HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, message)), status: status)
    }
}

/// The pure part: bytes of a head in, a request (or an HTTPError) out.
public enum HTTPHead {
    /// Splits a head (everything before the blank line) into lines; CRLF or LF.
    static func lines(_ head: Data) -> [Data] {
        var out: [Data] = []
        var start = head.startIndex
        for i in head.indices where head[i] == 0x0A {
            var end = i
            if end > start, head[head.index(before: end)] == 0x0D { end = head.index(before: end) }
            out.append(head[start..<end])
            start = head.index(after: i)
        }
        if start < head.endIndex { out.append(head[start...]) }
        return out
    }

    public static func parseRequest(_ head: Data, limits: HTTPLimits = .server) throws -> HTTPRequest {
        let all = lines(head)
        guard let first = all.first else { throw HTTPError(400, "empty request") }
        let line = [UInt8](first)
        guard line.count <= limits.maxLineBytes else { throw HTTPError(414, "request line longer than \(limits.maxLineBytes) bytes") }
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPError(400, "malformed request line (expected: METHOD /path HTTP/1.1)") }
        let method = parts[0], target = parts[1], version = parts[2]
        guard (1...16).contains(method.count), method.allSatisfy({ (0x41...0x5A).contains($0) }) else {
            throw HTTPError(400, "malformed method")
        }
        guard version.elementsEqual("HTTP/1.1".utf8) || version.elementsEqual("HTTP/1.0".utf8) else {
            throw HTTPError(505, "only HTTP/1.0 and HTTP/1.1 are served")
        }
        guard target.first == UInt8(ascii: "/"), target.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw HTTPError(400, "the request target must be an absolute path of visible ASCII characters")
        }
        let targetText = String(decoding: target, as: UTF8.self)
        let (path, rawQuery) = splitTarget(targetText)
        _ = try decodeSegments(path)
        let query = try parseQuery(rawQuery)
        let headers = try parseHeaders(all.dropFirst(), limits: limits)
        return HTTPRequest(method: String(decoding: method, as: UTF8.self), path: path, query: query, headers: headers)
    }

    static func splitTarget(_ target: String) -> (String, String?) {
        guard let q = target.firstIndex(of: "?") else { return (target, nil) }
        return (String(target[..<q]), String(target[target.index(after: q)...]))
    }

    /// `a=1&b&c=%20`: keys and values percent-decoded; empty items skipped;
    /// a key given twice keeps its first value.
    static func parseQuery(_ raw: String?) throws -> [String: String] {
        guard let raw else { return [:] }
        var query: [String: String] = [:]
        for item in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let eq = item.firstIndex(of: "=")
            let key = try percentDecode(String(eq.map { item[..<$0] } ?? item[...]), plusIsSpace: true)
            let value = try eq.map { try percentDecode(String(item[item.index(after: $0)...]), plusIsSpace: true) } ?? ""
            if key.isEmpty { continue }
            guard query.count < 32 else { throw HTTPError(400, "too many query parameters") }
            if query[key] == nil { query[key] = value }
        }
        return query
    }

    static func parseHeaders(_ lines: ArraySlice<Data>, limits: HTTPLimits) throws -> [String: String] {
        var headers: [String: String] = [:]
        guard lines.count <= limits.maxHeaderCount else { throw HTTPError(431, "more than \(limits.maxHeaderCount) header fields") }
        for raw in lines {
            let line = [UInt8](raw)
            guard line.count <= limits.maxLineBytes else { throw HTTPError(431, "a header line is longer than \(limits.maxLineBytes) bytes") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
                throw HTTPError(400, "malformed header line (expected Name: value)")
            }
            let name = line[..<colon]
            guard name.allSatisfy(isTokenByte) else { throw HTTPError(400, "malformed header name") }
            var value = line[(colon + 1)...]
            guard value.allSatisfy({ $0 == 0x09 || (0x20...0x7E).contains($0) || $0 >= 0x80 }) else {
                throw HTTPError(400, "control characters in a header value")
            }
            while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
            while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
            let key = String(decoding: name, as: UTF8.self).lowercased()
            let text = String(decoding: value, as: UTF8.self)
            if let old = headers[key] {
                // Two lengths (or two hosts) are how requests get smuggled.
                guard key != "content-length", key != "host", key != "authorization" else {
                    throw HTTPError(400, "the header \(key) is given twice")
                }
                headers[key] = old + ", " + text
            } else {
                headers[key] = text
            }
        }
        return headers
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }

    /// Content-Length: digits only, within the limit; no chunked bodies.
    public static func contentLength(_ headers: [String: String], limits: HTTPLimits) throws -> Int {
        if headers["transfer-encoding"] != nil {
            throw HTTPError(501, "Transfer-Encoding is not accepted; send the body with Content-Length")
        }
        guard let text = headers["content-length"] else { return 0 }
        guard !text.isEmpty, text.count <= 10, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = Int(text) else {
            throw HTTPError(400, "Content-Length must be a number of bytes")
        }
        guard n <= limits.maxBodyBytes else { throw HTTPError(413, "the body is larger than \(limits.maxBodyBytes) bytes") }
        return n
    }

    /// "/v1/guests/Plant%20HMI/start" → ["v1", "guests", "Plant HMI", "start"].
    public static func decodeSegments(_ path: String) throws -> [String] {
        try path.split(separator: "/", omittingEmptySubsequences: true).map { try percentDecode(String($0), plusIsSpace: false) }
    }

    static func percentDecode(_ s: String, plusIsSpace: Bool) throws -> String {
        guard s.contains("%") || (plusIsSpace && s.contains("+")) else { return s }
        var out: [UInt8] = []
        var bytes = s.utf8[...]
        while let b = bytes.first {
            bytes = bytes.dropFirst()
            if b == UInt8(ascii: "%") {
                guard bytes.count >= 2, let hi = hexValue(bytes[bytes.startIndex]),
                    let lo = hexValue(bytes[bytes.index(after: bytes.startIndex)])
                else {
                    throw HTTPError(400, "malformed percent-encoding in the request target")
                }
                out.append(hi << 4 | lo)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(plusIsSpace && b == UInt8(ascii: "+") ? 0x20 : b)
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw HTTPError(400, "the request target does not decode to UTF-8")
        }
        return text
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Everything but unreserved characters escaped (RFC 3986), so any name
    /// is one path segment or one query value.
    public static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}

/// The head of a message: bytes up to the blank line, within the limits, by the deadline.
func readHead(_ reader: LineReader, deadline: Date, limits: HTTPLimits) throws -> Data? {
    var head = Data()
    var lineCount = 0
    while true {
        let line: Data
        do {
            guard let l = try reader.nextLine(maxBytes: limits.maxLineBytes, deadline: deadline) else {
                if head.isEmpty { return nil }
                throw HTTPError(400, "the connection ended inside the request head")
            }
            line = l
        } catch let e as LineTooLong {
            throw HTTPError(431, e.description)
        } catch let e as HVError where e.code == .timeout {
            throw HTTPError(408, "the request did not arrive in time")
        }
        if line.isEmpty || line == Data([0x0D]) {
            if head.isEmpty && lineCount == 0 {
                lineCount += 1
                continue
            }  // a stray CRLF before the request
            return head
        }
        lineCount += 1
        head.append(line)
        head.append(0x0A)
        guard head.count <= limits.maxHeadBytes else { throw HTTPError(431, "the request head is larger than \(limits.maxHeadBytes) bytes") }
        guard lineCount <= limits.maxHeaderCount + 2 else { throw HTTPError(431, "more than \(limits.maxHeaderCount) header fields") }
    }
}

/// Exactly `length` bytes of body by the deadline (fewer only if the peer closes).
func readBody(_ reader: LineReader, length: Int, deadline: Date?) throws -> Data {
    var body = reader.takeBuffered(upTo: length)
    while body.count < length {
        let left = deadline.map { max(0.001, $0.timeIntervalSinceNow) }
        if let deadline, deadline.timeIntervalSinceNow <= 0 { throw HTTPError(408, "the request body did not arrive in time") }
        let more: Data?
        do { more = try reader.socket.read(maxBytes: min(65536, length - body.count), timeout: left) } catch let e as HVError where e.code == .timeout {
            throw HTTPError(408, "the request body did not arrive in time")
        }
        guard let more else { break }
        body.append(more)
    }
    return body
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: Data
    public var headers: [String: String]

    public init(status: Int, body: Data = Data(), headers: [String: String] = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, body: APIJSON.encode(value), headers: ["Content-Type": "application/json"])
    }

    public static func error(_ e: HVError) -> HTTPResponse {
        let status: Int =
            switch e.code {
            case .invalidArgument, .invalidConfig: 400
            case .notFound: 404
            case .conflict, .needsConfirmation: 409
            case .notLoaded, .missingImage, .unsupported: 422
            case .timeout, .bootStalled: 504
            default: 500
            }
        return json(APIErrorBody(e), status: status)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 101: "Switching Protocols"
        case 200: "OK"
        case 303: "See Other"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 431: "Request Header Fields Too Large"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }

    public func serialized() -> Data {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        var h = headers
        if status != 101 {
            h["Content-Length"] = String(body.count)
            h["Connection"] = "close"
        }
        h["X-Content-Type-Options"] = "nosniff"
        for (k, v) in h.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        return Data(head.utf8) + body
    }

    /// Reads a response head and body from a connection (hvd's answer to the CLI).
    public static func read(from reader: LineReader, timeout: Double?) throws -> HTTPResponse {
        let deadline = timeout.map { Date().addingTimeInterval($0) } ?? .distantFuture
        let limits = HTTPLimits.client
        let head: Data?
        do { head = try readHead(reader, deadline: deadline, limits: limits) } catch let e as HTTPError {
            throw HVError(e.status == 408 ? .timeout : .daemonUnavailable, "hvd's answer: \(e.message)")
        }
        guard let head else { throw HVError(.daemonUnavailable, "hvd closed the connection without answering") }
        let all = HTTPHead.lines(head)
        let parts = all.first.map { String(decoding: $0, as: UTF8.self).split(separator: " ") } ?? []
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw HVError(.daemonUnavailable, "hvd answered something that is not HTTP")
        }
        do {
            let headers = try HTTPHead.parseHeaders(all.dropFirst(), limits: limits)
            if status == 101 { return HTTPResponse(status: status, headers: headers) }
            let length = try HTTPHead.contentLength(headers, limits: limits)
            let body = try readBody(reader, length: length, deadline: timeout == nil ? nil : deadline)
            return HTTPResponse(status: status, body: body, headers: headers)
        } catch let e as HTTPError {
            throw HVError(.daemonUnavailable, "hvd's answer: \(e.message)")
        }
    }
}
