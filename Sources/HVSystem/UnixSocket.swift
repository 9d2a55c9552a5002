import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking Unix stream socket with deadlines. Used by the QMP client, the
/// console and the API; every file descriptor is close-on-exec so that QEMU
/// and hooks never inherit one.
public final class UnixSocket: @unchecked Sendable {
    public private(set) var fd: Int32
    private let closeLock = NSLock()
    /// One writer at a time: a frame or an answer is never interleaved with another.
    private let writeLock = NSLock()

    public init(fd: Int32) { self.fd = fd }

    deinit { close() }

    public static func connect(to path: String, timeout: Double = 5) throws -> UnixSocket {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            // Non-blocking for the connect alone: a listener whose backlog is full (a QEMU
            // that does not accept yet) would hold a blocking connect for good, past any deadline.
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw HVError.posix("socket", errno: errno) }
            var addr = try address(path)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if rc == 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                return UnixSocket(fd: fd)
            }
            let err = errno
            Glibc.close(fd)
            // A server that is still starting has no socket yet, or does not accept yet.
            guard err == ENOENT || err == ECONNREFUSED || err == EAGAIN, Date() < deadline else {
                throw HVError.posix("cannot connect to \(path)", errno: err)
            }
            usleep(20_000)
        }
    }

    /// A TCP listener on 127.0.0.1 only (the System Manager); the same stream API.
    public static func listenLoopback(port: Int, backlog: Int32 = 64) throws -> UnixSocket {
        guard (1...65535).contains(port) else {
            throw HVError(.invalidConfig, "port \(port) is not a TCP port", hint: "use a number from 1 to 65535")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HVError.posix("socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw HVError.posix("cannot listen on 127.0.0.1:\(port)", errno: e)
        }
        return UnixSocket(fd: fd)
    }

    /// Binds and listens; an old socket file left by a dead server is replaced.
    public static func listen(at path: String, mode: mode_t = 0o600, backlog: Int32 = 64) throws -> UnixSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HVError.posix("socket", errno: errno) }
        unlink(path)
        var addr = try address(path)
        // The umask makes the socket private from its first moment.
        let old = umask(0o077)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(old)
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw HVError.posix("cannot bind \(path)", errno: e)
        }
        chmod(path, mode)
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw HVError.posix("listen \(path)", errno: e)
        }
        return UnixSocket(fd: fd)
    }

    static func address(_ path: String) throws -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw HVError(
                .invalidArgument, "socket path too long (\(bytes.count) bytes): \(path)",
                hint: "use a shorter HV_ROOT")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in bytes.enumerated() { buf[i] = b }
            buf[bytes.count] = 0
        }
        return addr
    }

    public func accept() throws -> UnixSocket {
        while true {
            let c = Glibc.accept(fd, nil, nil)
            if c >= 0 {
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                return UnixSocket(fd: c)
            }
            if errno == EINTR { continue }
            throw HVError.posix("accept", errno: errno)
        }
    }

    /// The peer's pid and uid (SO_PEERCRED).
    public func peerCredentials() -> (pid: Int32, uid: UInt32)? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (not exported by Glibc's module map)
        var cred: (Int32, UInt32, UInt32) = (0, 0, 0)
        var len = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 else { return nil }
        return (cred.0, cred.1)
    }

    public func write(_ data: Data) throws {
        writeLock.lock()
        defer { writeLock.unlock() }
        try data.withUnsafeBytes { buf in
            guard let base = buf.baseAddress else { return }
            var off = 0
            while off < buf.count {
                let n = send(fd, base.advanced(by: off), buf.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw HVError.posix("write to socket", errno: errno)
                }
                off += n
            }
        }
    }

    public func write(_ s: String) throws { try write(Data(s.utf8)) }

    /// Waits up to `timeout` seconds (nil: forever) for data; returns nil at
    /// end of stream, throws `.timeout` when the deadline passes.
    public func read(maxBytes: Int = 65536, timeout: Double? = nil) throws -> Data? {
        if let timeout {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                let ms = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
                let rc = poll(&p, 1, ms)
                if rc > 0 { break }
                if rc < 0 && errno == EINTR { continue }
                if rc == 0 { throw HVError(.timeout, "no answer within \(timeout) s") }
                throw HVError.posix("poll", errno: errno)
            }
        }
        var buf = [UInt8](repeating: 0, count: maxBytes)
        while true {
            let n = recv(fd, &buf, maxBytes, 0)
            if n > 0 { return Data(buf[0..<n]) }
            if n == 0 { return nil }
            if errno == EINTR { continue }
            if errno == ECONNRESET { return nil }
            throw HVError.posix("read from socket", errno: errno)
        }
    }

    /// A send that cannot proceed for `seconds` fails (EAGAIN) instead of blocking.
    public func setSendTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    public func close() {
        closeLock.lock()
        defer { closeLock.unlock() }
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Wakes a thread blocked in read() on this socket without closing the fd.
    public func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}

/// Reads newline-terminated lines from a socket. Every line is bounded: a
/// peer that never sends a newline (a hostile QEMU on QMP, a client on the
/// API) gets an error instead of hvd's memory.
public final class LineReader: @unchecked Sendable {
    public let socket: UnixSocket
    private var buffer = Data()
    /// The longest line `nextLine(timeout:)` accepts.
    public let maxLineBytes: Int
    public init(_ socket: UnixSocket, maxLineBytes: Int = 4 << 20) {
        self.socket = socket
        self.maxLineBytes = maxLineBytes
    }

    public func nextLine(timeout: Double? = nil) throws -> Data? {
        try nextLine(maxBytes: maxLineBytes, deadline: timeout.map { Date().addingTimeInterval($0) })
    }

    /// One line (without its newline) by `deadline` (nil: none); nil at the
    /// end of the stream; throws `LineTooLong` past `maxBytes`.
    public func nextLine(maxBytes: Int, deadline: Date?) throws -> Data? {
        var searched = 0
        while true {
            if let nl = buffer[(buffer.startIndex + searched)...].firstIndex(of: 0x0A) {
                guard nl - buffer.startIndex <= maxBytes else { throw LineTooLong(maxBytes: maxBytes) }
                let line = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[buffer.index(after: nl)...])
                return Data(line)
            }
            searched = buffer.count
            guard buffer.count <= maxBytes else { throw LineTooLong(maxBytes: maxBytes) }
            let left = deadline.map { $0.timeIntervalSinceNow }
            if let left, left <= 0 { throw HVError(.timeout, "no complete line in time") }
            guard let chunk = try socket.read(timeout: left) else {
                if buffer.isEmpty { return nil }
                defer { buffer = Data() }
                return buffer
            }
            buffer.append(chunk)
        }
    }

    /// Bytes read past the last line returned.
    public func takeBuffered() -> Data {
        defer { buffer = Data() }
        return buffer
    }

    /// At most `limit` of the buffered bytes; the rest stays buffered.
    public func takeBuffered(upTo limit: Int) -> Data {
        let n = min(limit, buffer.count)
        defer { buffer = Data(buffer.dropFirst(n)) }
        return Data(buffer.prefix(n))
    }

    /// Exactly `count` bytes (after whatever is buffered); throws at the end of the stream.
    public func readExactly(_ count: Int, timeout: Double? = nil) throws -> [UInt8] {
        guard count >= 0 else { throw HVError(.invalidArgument, "a negative length") }
        while buffer.count < count {
            guard let chunk = try socket.read(timeout: timeout) else {
                throw HVError(.io, "the connection ended")
            }
            buffer.append(chunk)
        }
        let out = [UInt8](buffer.prefix(count))
        buffer = Data(buffer.dropFirst(count))
        return out
    }
}

/// A peer sent more than `maxBytes` without a newline.
public struct LineTooLong: Error, Sendable, Equatable, CustomStringConvertible {
    public let maxBytes: Int
    public var description: String { "a line is longer than \(maxBytes) bytes" }
}
