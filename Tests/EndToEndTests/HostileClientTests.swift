import Foundation
import HVAPI
import HVCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Any local user may send any bytes to hvd's System Manager port (and a
    /// web page can make the operator's browser send some); root's CLI talks
    /// over the Unix socket. Malformed requests get an answer or a closed
    /// connection, floods and slow clients are capped, and hvd keeps
    /// answering the CLI throughout. Concurrent writers lose nothing.
    @Suite struct HostileClient {
        /// Raw bytes to a stream socket; what came back (empty: closed without an answer).
        static func rawText(_ fd: Int32, _ bytes: Data, readFor seconds: Int = 5) -> String {
            String(decoding: raw(fd, bytes, readFor: seconds), as: UTF8.self)
        }

        /// Raw bytes to a stream socket, then everything it answers until it closes (or `seconds` of silence); closes `fd`.
        static func raw(_ fd: Int32, _ bytes: Data, readFor seconds: Int = 5) -> Data {
            var tv = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            var out = Data()
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buf, buf.count, 0)
                if n <= 0 { break }
                out.append(contentsOf: buf[0..<n])
            }
            close(fd)
            return out
        }

        static func tcp(_ port: Int) -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(port).bigEndian
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            return fd
        }

        static func unix(_ path: String) -> Int32 {
            (try? UnixSocket.connect(to: path, timeout: 2)).map { s in
                let fd = dup(s.fd)
                s.close()
                return fd
            } ?? -1
        }

        static let catalogue: [String] = [
            "GET /v1/vmf?= HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "GET /v1/guests/a?b=c?= HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "POST /v1/guests HTTP/1.1\r\nHost: HOST\r\nContent-Length: -1\r\n\r\n",
            "POST /v1/guests HTTP/1.1\r\nHost: HOST\r\nContent-Length: 18446744073709551617\r\n\r\n",
            "POST /v1/guests HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST /v1/guests HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "GET /v1/guests/%zz HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "GET /v1/guests/%00 HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "\r\n\r\n\r\n",
            "GET\r\n\r\n",
            "GET / HTTP/9.9\r\nHost: HOST\r\n\r\n",
            "DELETE /v1/vmf HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "GET /" + String(repeating: "A", count: 70_000) + " HTTP/1.1\r\n\r\n",
            "GET /v1/vmf HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 500) + "\r\n",
            "GET /v1/vmf HTTP/1.1\r\nHost: HOST\r\nX: " + String(repeating: "z", count: 100_000),
            String(repeating: "\u{0}", count: 5000),
        ]

        @Test func malformedRequestsFloodsAndSlowClientsLeaveHvdAnswering() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let port = try host.useFreeManagerPort()
            try host.prepare(loadVMF: false)
            let url = host.run("hv", ["manager", "url"])
            try #require(url.status == 0 && url.out.contains(":\(port)/"), "\(url.all)")
            let hvd = try #require(host.hvdPid)
            let sock = host.layout.daemonSocket.path

            for (i, req) in Self.catalogue.enumerated() {
                for (name, fd) in [("tcp", Self.tcp(port)), ("unix", Self.unix(sock))] {
                    let text = req.replacingOccurrences(of: "HOST", with: "127.0.0.1:\(port)")
                    let answer = Self.rawText(fd, Data(text.utf8))
                    let status = Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
                    // The first two are odd but valid (an empty query item is skipped); the rest are refused.
                    let allowed = i < 2 ? 200..<600 : 400..<600
                    #expect(answer.isEmpty || (answer.hasPrefix("HTTP/1.1 ") && allowed.contains(status)), "\(name) #\(i): \(answer.prefix(200))")
                    #expect(TestHost.isAlive(hvd), "hvd died on \(name) request #\(i)")
                }
            }
            // A page of another name resolved to 127.0.0.1 (DNS rebinding) is refused.
            let rebound = Self.rawText(Self.tcp(port), Data("GET /v1/vmf HTTP/1.1\r\nHost: evil.example:\(port)\r\n\r\n".utf8))
            #expect(rebound.hasPrefix("HTTP/1.1 421"), "\(rebound.prefix(200))")
            // An undeclared method on a known path: 405 with Allow.
            let wrong = Self.rawText(Self.unix(sock), Data("PUT /v1/vmf HTTP/1.1\r\nHost: hvd\r\n\r\n".utf8))
            #expect(wrong.hasPrefix("HTTP/1.1 405") && wrong.contains("Allow: GET"), "\(wrong.prefix(300))")

            // A thousand idle connections on the port and forty slow ones on the socket: the CLI still answers.
            var held: [Int32] = []
            defer { for fd in held { close(fd) } }
            for _ in 0..<1000 { held.append(Self.tcp(port)) }
            for _ in 0..<40 {
                let fd = Self.unix(sock)
                _ = "GET /v1/vm".withCString { send(fd, $0, 10, Int32(MSG_NOSIGNAL)) }
                held.append(fd)
            }
            let list = host.run("hv", ["guest", "list", "--json"], timeout: 30)
            #expect(list.status == 0, "\(list.all)")
            let busy = Self.rawText(Self.tcp(port), Data("GET /v1/vmf HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8))
            #expect(busy.hasPrefix("HTTP/1.1 503") || busy.hasPrefix("HTTP/1.1 401"), "\(busy.prefix(200))")
            for fd in held { close(fd) }
            held = []
            #expect(TestHost.isAlive(hvd))

            // A guest whose name has a space and a question mark is addressed by that name.
            let token = host.text(host.layout.managerToken).trimmingCharacters(in: .whitespacesAndNewlines)
            let post = ["Authorization": "Bearer \(token)", "X-HV-Request": "1", "Content-Type": "application/json"]
            let created = Manager.request(port, "POST", "/v1/guests", headers: post, body: #"{"type":"rt-linux","name":"Plant HMI?a=b"}"#)
            #expect(created?.status == 200, "\(String(decoding: created?.body ?? Data(), as: UTF8.self))")
            let status = host.run("hv", ["guest", "status", "Plant HMI?a=b"])
            #expect(status.status == 0 && status.out.contains("Plant HMI?a=b"), "\(status.all)")
            // A newline in a name is refused with the field named, and hv.config still loads.
            let bad = Manager.request(port, "POST", "/v1/guests", headers: post, body: #"{"type":"rt-linux","name":"two\nlines"}"#)
            #expect(bad?.status == 400 && (bad?.json as? [String: Any])?["field"] as? String == "name")

            // Eight creations at once: each one answered with success is in hv.config, which parses.
            let results = Results()
            DispatchQueue.concurrentPerform(iterations: 8) { i in
                let r = Manager.request(
                    port, "POST", "/v1/guests", headers: post,
                    body: #"{"type":"general","os":"ubuntu","name":"Parallel \#(i)"}"#, readFor: 60)
                results.add(r?.status == 200 ? "Parallel \(i)" : nil)
            }
            let config = try HypervisorConfig.load(host.layout.hvConfig)
            #expect(results.names.count == 8, "\(results.names)")
            for name in results.names { #expect(config.guests.contains { $0.name == name }, "\(name) was answered but lost") }
            #expect(Set(config.guests.map(\.id)).count == config.guests.count, "two guests got one id")

            // Edits of eight guests and core moves at once: every edit lands, every file still parses.
            let parallel = config.guests.filter { $0.name.hasPrefix("Parallel ") }
            let edits = Results()
            DispatchQueue.concurrentPerform(iterations: parallel.count + 2) { i in
                if i < parallel.count {
                    let g = parallel[i]
                    let r = Manager.request(
                        port, "PATCH", "/v1/guests/\(g.folder)/settings", headers: post,
                        body: #"{"memoryMiB":\#(1000 + g.id)}"#, readFor: 60)
                    edits.add(r?.status == 200 ? g.folder : nil)
                } else {
                    let rtos = i == parallel.count ? "guestrtlinux" : HTTPHead.percentEncode("Plant HMI?a=b")
                    _ = Manager.request(port, "POST", "/v1/guests/\(rtos)/cores", headers: post, body: #"{"cores":"auto"}"#, readFor: 60)
                }
            }
            #expect(edits.names.count == parallel.count, "\(edits.names)")
            let after = try HypervisorConfig.load(host.layout.hvConfig)
            #expect(after.guests.count == config.guests.count)
            for g in parallel {
                let guest = try GuestConfig.load(from: host.layout.guest(g.folder))
                #expect(guest.memoryMiB == 1000 + g.id, "\(g.folder): an edit was lost")
            }
            #expect(TestHost.isAlive(hvd))
        }

        final class Results: @unchecked Sendable {
            private let lock = NSLock()
            private(set) var names: [String] = []
            func add(_ n: String?) {
                lock.lock()
                if let n { names.append(n) }
                lock.unlock()
            }
        }
    }
}
