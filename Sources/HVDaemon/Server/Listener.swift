import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// One accept loop per listening socket (the CLI's Unix socket, the System
/// Manager's TCP port). Each connection gets a thread of its own, up to
/// `maxConnections` at once: past that a client gets a 503 at once, so a
/// flood on one listener never takes hvd's memory or its other listener.
/// Accept errors (out of descriptors) back off instead of spinning.
final class Listener: @unchecked Sendable {
    let socket: UnixSocket
    let name: String
    let maxConnections: Int
    private let lock = NSLock()
    private var active = 0

    init(_ socket: UnixSocket, name: String, maxConnections: Int) {
        self.socket = socket
        self.name = name
        self.maxConnections = maxConnections
    }

    /// Runs forever on the calling thread.
    func run(log: Logger, serve: @escaping @Sendable (UnixSocket) -> Void) -> Never {
        var backoff: UInt32 = 0
        while true {
            let conn: UnixSocket
            do {
                conn = try socket.accept()
                backoff = 0
            } catch {
                backoff = min(max(backoff * 2, 10_000), 1_000_000)
                if backoff == 1_000_000 { log.info("\(name): accept failed (\(error)); retrying") }
                usleep(backoff)
                continue
            }
            // A client that stops reading cannot hold a thread in write() forever.
            conn.setSendTimeout(seconds: 30)
            guard enter() else {
                try? conn.write(HTTPError(503, "hvd is serving \(maxConnections) connections on \(name); try again").response.serialized())
                conn.close()
                continue
            }
            let t = Thread { [self] in
                defer {
                    leave()
                    conn.close()
                }
                serve(conn)
            }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    private func enter() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard active < maxConnections else { return false }
        active += 1
        return true
    }

    private func leave() {
        lock.lock()
        defer { lock.unlock() }
        active -= 1
    }
}

/// Reads one request; a malformed one is answered (400, 408, 413, 431, …)
/// and nil returned, so the caller just closes.
func readRequest(_ conn: UnixSocket, _ reader: LineReader) -> HTTPRequest? {
    do {
        return try HTTPRequest.read(from: reader, timeout: 10)
    } catch let e as HTTPError {
        try? conn.write(e.response.serialized())
    } catch {
        // The peer went away or the socket failed: nobody to answer.
    }
    return nil
}
