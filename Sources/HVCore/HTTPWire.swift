import Foundation

/// The small part of HTTP/1.1 that hvd's API on its Unix socket uses: one
/// request per connection, a JSON body with Content-Length, and an Upgrade
/// that turns the connection into a raw console stream. (`curl --unix-socket`
/// speaks it too.)
public struct HTTPRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: Data

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: Data = Data()) {
        self.method = method; self.path = path; self.query = query; self.headers = headers; self.body = body
    }

    /// Reads one request; nil at end of stream. Bytes past the body stay in `reader`.
    public static func read(from reader: LineReader, timeout: Double) throws -> HTTPRequest? {
        guard let first = try reader.nextLine(timeout: timeout) else { return nil }
        let parts = String(decoding: first, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard parts.count >= 2 else { throw HVError(.invalidArgument, "malformed request line") }
        let headers = try readHeaders(reader, timeout: timeout)
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard length <= 1 << 20 else { throw HVError(.invalidArgument, "request body too large") }
        let body = try readBody(reader, length: length, timeout: timeout)
        let target = String(parts[1])
        let pq = target.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if pq.count == 2 {
            for item in pq[1].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                query[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
        }
        return HTTPRequest(method: String(parts[0]), path: String(pq[0]), query: query, headers: headers,
                           body: body)
    }

    public func serialized() -> Data {
        var target = path
        if !query.isEmpty {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~/"))
            target += "?" + query.sorted { $0.key < $1.key }.map {
                "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.value)"
            }.joined(separator: "&")
        }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: hvd\r\nContent-Length: \(body.count)\r\n"
        if !body.isEmpty { head += "Content-Type: application/json\r\n" }
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        return Data(head.utf8) + body
    }
}

/// Header lines up to the blank line, names lower-cased.
func readHeaders(_ reader: LineReader, timeout: Double?) throws -> [String: String] {
    var headers: [String: String] = [:]
    while let line = try reader.nextLine(timeout: timeout) {
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { break }
        let kv = text.split(separator: ":", maxSplits: 1)
        if kv.count == 2 { headers[kv[0].lowercased()] = kv[1].trimmingCharacters(in: .whitespaces) }
    }
    return headers
}

/// Exactly `length` bytes of body (fewer only if the peer closes).
func readBody(_ reader: LineReader, length: Int, timeout: Double?) throws -> Data {
    var body = reader.takeBuffered()
    while body.count < length {
        guard let more = try reader.socket.read(timeout: timeout) else { break }
        body.append(more)
    }
    return body.prefix(length)
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: Data
    public var headers: [String: String]

    public init(status: Int, body: Data = Data(), headers: [String: String] = [:]) {
        self.status = status; self.body = body; self.headers = headers
    }

    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, body: APIJSON.encode(value), headers: ["Content-Type": "application/json"])
    }

    public static func error(_ e: HVError) -> HTTPResponse {
        let status: Int = switch e.code {
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
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 422: "Unprocessable Content"
        case 504: "Gateway Timeout"
        default: "Error"
        }
    }

    public func serialized() -> Data {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        var h = headers
        if status != 101 { h["Content-Length"] = String(body.count); h["Connection"] = "close" }
        for (k, v) in h.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        return Data(head.utf8) + body
    }

    /// Reads a response head and body from a connection.
    public static func read(from reader: LineReader, timeout: Double?) throws -> HTTPResponse {
        guard let first = try reader.nextLine(timeout: timeout) else {
            throw HVError(.daemonUnavailable, "hvd closed the connection without answering")
        }
        let parts = String(decoding: first, as: UTF8.self).split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw HVError(.daemonUnavailable, "hvd answered something that is not HTTP")
        }
        let headers = try readHeaders(reader, timeout: timeout)
        if status == 101 { return HTTPResponse(status: status, headers: headers) }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let body = try readBody(reader, length: length, timeout: timeout)
        return HTTPResponse(status: status, body: body, headers: headers)
    }
}
