import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// KVM guests' desktops in the browser: Debian's noVNC (served from
/// /usr/share/novnc) speaking RFB over a WebSocket that hvd bridges onto the
/// guest's VNC Unix socket, behind the same token and Origin check as the
/// console (QEMU's own loopback WebSocket has no authentication).
extension ManagerServer {
    static let novncRoot = URL(fileURLWithPath: "/usr/share/novnc")

    func serveNoVNC(_ conn: UnixSocket, path: String) {
        let relative = String(path.dropFirst("/novnc/".count))
        let file = Self.novncRoot.appendingPathComponent(relative).resolvingSymlinksInPath().standardizedFileURL
        let root = Self.novncRoot.resolvingSymlinksInPath().standardizedFileURL.path
        var isDir: ObjCBool = false
        guard !relative.contains(".."), file.path.hasPrefix(root + "/") || file.path.hasPrefix("/usr/share/javascript/"),
            FileManager.default.fileExists(atPath: file.path, isDirectory: &isDir), !isDir.boolValue,
            let data = try? Data(contentsOf: file)
        else {
            let missing = !FileManager.default.fileExists(atPath: Self.novncRoot.path)
            return reply(
                conn,
                .error(
                    HVError(
                        .notFound, missing ? "noVNC is not installed" : "no file \(path)",
                        hint: missing ? "apt-get install novnc (hv setup does)" : nil)))
        }
        let types = [
            "html": "text/html; charset=utf-8", "js": "text/javascript", "css": "text/css", "svg": "image/svg+xml",
            "png": "image/png", "ico": "image/x-icon", "json": "application/json", "woff": "font/woff", "ttf": "font/ttf",
        ]
        reply(
            conn,
            HTTPResponse(
                status: 200, body: data,
                headers: [
                    "Content-Type": types[file.pathExtension.lowercased()] ?? "application/octet-stream",
                    "Cache-Control": "no-store",
                ]))
    }

    func serveDisplay(_ conn: UnixSocket, _ reader: LineReader, _ req: HTTPRequest, ref: String) {
        guard let origin = req.headers["origin"], ["http://127.0.0.1:\(port)", "http://localhost:\(port)"].contains(origin),
            req.headers["upgrade"]?.lowercased() == "websocket", let key = req.headers["sec-websocket-key"]
        else {
            return reply(conn, HTTPResponse.json(APIErrorBody(HVError(.invalidArgument, "a desktop needs a WebSocket from this server's page")), status: 403))
        }
        let vnc: UnixSocket
        do {
            let sup = try ctx.resolve(ref)
            guard sup.status().display != nil else {
                throw HVError(.conflict, "\(sup.folder.name) has no desktop now (not running, or an RTOS guest)")
            }
            vnc = try UnixSocket.connect(to: sup.folder.vncSocket.path, timeout: 3)
        } catch let e as HVError { return reply(conn, .error(e)) } catch { return }
        var headers = ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": WebSocket.acceptKey(key)]
        // noVNC asks for the "binary" subprotocol; a browser drops a connection that does not get it back.
        if let asked = req.headers["sec-websocket-protocol"],
            asked.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "binary" })
        {
            headers["Sec-WebSocket-Protocol"] = "binary"
        }
        reply(conn, HTTPResponse(status: 101, headers: headers))
        Thread.detachNewThread {
            while let data = try? vnc.read(), !data.isEmpty {
                if (try? conn.write(WebSocket.frame([UInt8](data)))) == nil { break }
            }
            conn.shutdown()
        }
        pump(reader, conn) { try? vnc.write(Data($0)) }
        vnc.shutdown()
        vnc.close()
    }
}
