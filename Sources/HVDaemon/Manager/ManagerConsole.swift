import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// A guest's serial console in the System Manager's page, over a WebSocket.
/// The broker is the CLI's (one interactive client per guest): the page
/// becomes that client through a socket pair. When someone else holds the
/// console, the page watches read-only (console.log as it grows) and is told who.
extension ManagerServer {
    func serveConsole(_ conn: UnixSocket, _ reader: LineReader, _ req: HTTPRequest, ref: String) {
        // WebSockets are not covered by CORS: the origin is checked here, always.
        guard let origin = req.headers["origin"], ["http://127.0.0.1:\(port)", "http://localhost:\(port)"].contains(origin),
            req.headers["upgrade"]?.lowercased() == "websocket", let key = req.headers["sec-websocket-key"]
        else {
            return reply(conn, HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, "a console needs a WebSocket from this server's page")), status: 403))
        }
        let sup: GuestSupervisor
        do { sup = try ctx.resolve(ref) } catch let e as HVError { return reply(conn, .error(e)) } catch { return }
        reply(
            conn,
            HTTPResponse(
                status: 101,
                headers: [
                    "Upgrade": "websocket", "Connection": "Upgrade",
                    "Sec-WebSocket-Accept": WebSocket.acceptKey(key),
                ]))
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else { return }
        let brokerSide = UnixSocket(fd: fds[0]), pageSide = UnixSocket(fd: fds[1])
        let failure = Box()
        Thread.detachNewThread {
            do { try sup.attachConsole(client: brokerSide, who: "the System Manager (browser)", replay: .tail) } catch {
                failure.text = (error as? HVError)?.message ?? "\(error)"
            }
            brokerSide.close()
        }
        // The broker answers with its own 101 head first; after it, raw console bytes.
        let pageReader = LineReader(pageSide)
        var interactive = false
        while let line = try? pageReader.nextLine(timeout: 10) {
            if line.isEmpty || line == Data([0x0D]) {
                interactive = true
                break
            }
        }
        guard interactive else {
            pageSide.close()
            return watchReadOnly(conn, reader, sup, why: failure.text ?? "the console could not be opened")
        }
        let first = pageReader.takeBuffered()
        if !first.isEmpty { try? conn.write(WebSocket.frame([UInt8](first))) }
        Thread.detachNewThread {
            while let data = try? pageSide.read(), !data.isEmpty {
                if (try? conn.write(WebSocket.frame([UInt8](data)))) == nil { break }
            }
            conn.shutdown()
        }
        pump(reader, conn) { try? pageSide.write(Data($0)) }
        pageSide.shutdown()
    }

    /// Frames from the page: text and binary go to `input`; pings are answered; close ends.
    func pump(_ reader: LineReader, _ conn: UnixSocket, input: ([UInt8]) -> Void) {
        while let (op, payload) = WebSocket.readFrame(reader) {
            switch op {
            case .text, .binary, .continuation: input(payload)
            case .ping: try? conn.write(WebSocket.frame(payload, opcode: .pong))
            case .pong: break
            case .close:
                try? conn.write(WebSocket.frame([], opcode: .close))
                return
            }
        }
    }

    func watchReadOnly(_ conn: UnixSocket, _ reader: LineReader, _ sup: GuestSupervisor, why: String) {
        let note = "\r\n[hv] read-only: \(why)\r\n"
        guard (try? conn.write(WebSocket.frame(Array(note.utf8), opcode: .text))) != nil else { return }
        let log = sup.folder.consoleLog
        var offset: UInt64 = {
            let s = FileSize.of(log)
            return s > 4096 ? s - 4096 : 0
        }()
        let closed = Box()
        Thread.detachNewThread { [self] in
            pump(reader, conn) { _ in }
            closed.text = "closed"
        }
        while closed.text == nil {
            let size = FileSize.of(log)
            if size < offset { offset = 0 }  // rotated
            if size > offset {
                let data = FileSize.read(log, from: offset, max: Int(size - offset))
                offset += UInt64(data.count)
                if (try? conn.write(WebSocket.frame([UInt8](data)))) == nil { return }
            }
            usleep(200_000)
        }
    }
}

final class Box: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    var text: String? {
        get {
            lock.lock()
            defer { lock.unlock() }
            return value
        }
        set {
            lock.lock()
            value = newValue
            lock.unlock()
        }
    }
}
