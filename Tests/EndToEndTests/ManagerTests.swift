import Foundation
import HVCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// The System Manager's API on loopback TCP: real responses checked
    /// against docs/openapi.json; the token and the cross-site rules.
    @Suite struct Manager {
        struct Reply {
            var status: Int
            var headers: [String: String]
            var body: Data
            var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        }

        /// One HTTP/1.1 request to 127.0.0.1:port (connection closed after the answer).
        static func request(
            _ port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil,
            readFor seconds: Double = 10
        ) -> Reply? {
            let fd = HostileClient.tcp(port)
            guard fd >= 0 else { return nil }
            let payload = Data((body ?? "").utf8)
            var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: \(payload.count)\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            let data = HostileClient.raw(fd, Data((head + "\r\n").utf8) + payload, readFor: Int(seconds.rounded(.up)))
            guard let split = data.range(of: Data("\r\n\r\n".utf8)) else { return nil }
            let lines = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
            let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
            var h: [String: String] = [:]
            for l in lines.dropFirst() {
                if let c = l.firstIndex(of: ":") { h[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces) }
            }
            return Reply(status: status, headers: h, body: Data(data[split.upperBound...]))
        }

        nonisolated(unsafe) static let spec: [String: Any] = {
            let url = TestHost.package.appendingPathComponent("docs/openapi.json")
            return (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] ?? [:]
        }()

        /// The schema of a path's answer for a status ("default" for errors).
        static func responseSchema(_ path: String, _ method: String, _ status: Int) -> [String: Any]? {
            guard let op = ((spec["paths"] as? [String: Any])?[path] as? [String: Any])?[method] as? [String: Any],
                let responses = op["responses"] as? [String: Any],
                var r = (responses[String(status)] ?? responses["default"]) as? [String: Any]
            else { return nil }
            if let ref = r["$ref"] as? String { r = resolve(ref) }
            return ((r["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
        }

        static func resolve(_ ref: String) -> [String: Any] {
            var node: Any = spec
            for part in ref.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] ?? [:] }
            return node as? [String: Any] ?? [:]
        }

        /// A small JSON Schema check (type, required, properties, items, enum, $ref): the problems found.
        static func check(_ value: Any, _ schema: [String: Any], at path: String = "$") -> [String] {
            if let ref = schema["$ref"] as? String { return check(value, resolve(ref), at: path) }
            var problems: [String] = []
            if let allowed = schema["enum"] as? [String], let s = value as? String, !allowed.contains(s) {
                problems.append("\(path): \(s) is not one of \(allowed)")
            }
            switch schema["type"] as? String {
            case "object":
                guard let o = value as? [String: Any] else { return ["\(path): not an object"] }
                for key in schema["required"] as? [String] ?? [] where o[key] == nil { problems.append("\(path).\(key) is missing") }
                let props = schema["properties"] as? [String: Any] ?? [:]
                for (k, v) in o {
                    if let p = props[k] as? [String: Any] {
                        problems += check(v, p, at: "\(path).\(k)")
                    } else if let extra = schema["additionalProperties"] as? [String: Any] {
                        problems += check(v, extra, at: "\(path).\(k)")
                    } else if !props.isEmpty {
                        problems.append("\(path).\(k) is not in the document")
                    }
                }
            case "array":
                guard let a = value as? [Any] else { return ["\(path): not an array"] }
                for (i, v) in a.enumerated() { problems += check(v, schema["items"] as? [String: Any] ?? [:], at: "\(path)[\(i)]") }
            case "string": if !(value is String) { problems.append("\(path): not a string") }
            case "integer":
                if !(value is NSNumber) || (value as? NSNumber).map({ $0.doubleValue != $0.doubleValue.rounded() }) == true {
                    problems.append("\(path): not an integer")
                }
            case "number": if !(value is NSNumber) { problems.append("\(path): not a number") }
            case "boolean": if !(value is Bool) { problems.append("\(path): not a boolean") }
            default: break
            }
            return problems
        }

        @Test func theAPIAnswersAsDocumentedAndOnlyWithTheToken() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let port = try host.useFreeManagerPort()
            let rt = try host.prepare("ubuntu_rtlinux", loadVMF: false)
            let url = host.run("hv", ["manager", "url"])
            try #require(url.status == 0, "\(url.all)")
            // The address carries a login code in its fragment, never the token; the code is good once.
            #expect(url.out.hasPrefix("http://127.0.0.1:\(port)/#code="), "\(url.out)")
            let code = url.out.trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "code=").last ?? ""
            let tokenFile = host.layout.managerToken
            let token = host.text(tokenFile).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!url.out.contains(token) && code.count == 64)
            let loginHeaders = ["X-HV-Request": "1", "Content-Type": "application/json"]
            let login = Self.request(port, "POST", "/v1/manager/login", headers: loginHeaders, body: #"{"code":"\#(code)"}"#)
            #expect(login?.status == 200 && (login?.json as? [String: Any])?["token"] as? String == token)
            #expect(Self.request(port, "POST", "/v1/manager/login", headers: loginHeaders, body: #"{"code":"\#(code)"}"#)?.status == 401, "spent")
            #expect(
                Self.request(port, "POST", "/v1/manager/login", headers: loginHeaders, body: #"{"code":"\#(String(repeating: "0", count: 64))"}"#)?.status
                    == 401)
            #expect(
                Self.request(port, "POST", "/v1/manager/login", headers: ["Content-Type": "application/json"], body: #"{"code":"\#(code)"}"#)?.status == 401,
                "a login needs X-HV-Request like every other POST")
            for file in [tokenFile, host.layout.metricsToken] {
                #expect(((try? FileManager.default.attributesOfItem(atPath: file.path))?[.posixPermissions] as? Int) == 0o600, "\(file.path)")
            }
            let auth = ["Authorization": "Bearer \(token)"]
            let post = auth.merging(["X-HV-Request": "1", "Content-Type": "application/json"]) { $1 }

            func expectDocumented(
                _ method: String, _ path: String, template: String? = nil, headers: [String: String], body: String? = nil,
                status: Int
            ) {
                guard let r = Self.request(port, method, path, headers: headers, body: body) else {
                    Issue.record("no answer to \(method) \(path)")
                    return
                }
                #expect(r.status == status, "\(method) \(path): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
                guard let schema = Self.responseSchema(template ?? path, method.lowercased(), r.status) else {
                    Issue.record("\(template ?? path) \(method) \(r.status) is not in docs/openapi.json")
                    return
                }
                let problems = Self.check(r.json ?? "not JSON", schema)
                #expect(problems.isEmpty, "\(method) \(path): \(problems)")
            }
            expectDocumented("GET", "/v1/guests", headers: auth, status: 200)
            expectDocumented("GET", "/v1/guests/guestrtlinux", template: "/v1/guests/{ref}", headers: auth, status: 200)
            expectDocumented("GET", "/v1/vmf", headers: auth, status: 200)
            expectDocumented("GET", "/v1/manager", headers: auth, status: 200)
            expectDocumented("GET", "/v1/host", headers: auth, status: 200)
            // Cores: a conflict or a bad value is refused and hv.config stays as it was.
            let before = host.text(host.layout.hvConfig)
            expectDocumented("POST", "/v1/guests/guestrtlinux/cores", template: "/v1/guests/{ref}/cores", headers: post, body: #"{"cores":"0"}"#, status: 400)
            expectDocumented("POST", "/v1/guests/guestrtlinux/cores", template: "/v1/guests/{ref}/cores", headers: post, body: #"{"cores":"one"}"#, status: 400)
            expectDocumented("POST", "/v1/guests/guestubuntu/cores", template: "/v1/guests/{ref}/cores", headers: post, body: #"{"cores":"1"}"#, status: 400)
            #expect(host.text(host.layout.hvConfig) == before)
            expectDocumented("POST", "/v1/guests/guestrtlinux/cores", template: "/v1/guests/{ref}/cores", headers: post, body: #"{"cores":"1"}"#, status: 200)
            #expect(host.text(host.layout.hvConfig).contains(#""RtCores"="1""#))
            expectDocumented("GET", "/v1/comm", headers: auth, status: 422)
            // Bad input: 4xx with a message, and nothing happens.
            expectDocumented(
                "POST", "/v1/guests/nobody/start", template: "/v1/guests/{ref}/start", headers: post, body: #"{"wait":false,"timeoutSeconds":10}"#, status: 404)
            expectDocumented("POST", "/v1/guests/guestrtlinux/start", template: "/v1/guests/{ref}/start", headers: post, body: #"{"wait":"soon"}"#, status: 400)
            expectDocumented(
                "POST", "/v1/guests/guestrtlinux/start", template: "/v1/guests/{ref}/start", headers: post, body: #"{"wait":false,"timeoutSeconds":10}"#,
                status: 422)
            expectDocumented(
                "POST", "/v1/guests/guestubuntu/restart", template: "/v1/guests/{ref}/restart", headers: post, body: #"{"wait":false,"timeoutSeconds":10}"#,
                status: 422)
            expectDocumented("POST", "/v1/vmf/load", headers: post, body: #"{"config":"/nonexistent/hv.config"}"#, status: 404)
            expectDocumented("GET", "/v1/guests/guestubuntu/deletion", template: "/v1/guests/{ref}/deletion", headers: auth, status: 200)
            expectDocumented(
                "POST", "/v1/guests/guestubuntu/delete", template: "/v1/guests/{ref}/delete", headers: post, body: #"{"confirm":false}"#, status: 409)
            #expect(FileManager.default.fileExists(atPath: host.folder("guestubuntu").path), "an unconfirmed delete changes nothing")
            #expect(host.qemuPid("guestrtlinux") == nil && !FileManager.default.fileExists(atPath: host.layout.vmfState.path))

            // Creating guests: every field's bad value is a 4xx naming the field, and nothing is written.
            let hvBefore = host.text(host.layout.hvConfig)
            let foldersBefore = try FileManager.default.contentsOfDirectory(atPath: host.layout.guestsDir.path).sorted()
            for (body, field) in [
                (#"{"type":"rt-linux","name":""}"#, "name"),
                (#"{"type":"rt-linux","name":"C","memoryMiB":5}"#, "memoryMiB"),
                (#"{"type":"rt-linux","name":"C","cores":0}"#, "cores"),
                (#"{"type":"general","name":"D","os":"plan9"}"#, "os"),
                (#"{"type":"general","name":"D","diskSizeGiB":0}"#, "diskSizeGiB"),
                (#"{"type":"rt-linux","name":"C","folder":"../x"}"#, "folder"),
                (#"{"type":"rt-linux","name":"C","folder":"guestubuntu"}"#, "folder"),
                (#"{"type":"vxworks","name":"V","image":"nothing-here"}"#, "image"),
                (#"{"type":"rt-linux","name":"R","diskSizeGiB":65537}"#, "diskSizeGiB"),
                (#"{"type":"general","name":"G","image":"templates/rt-linux"}"#, "image"),
            ] {
                let r = Self.request(port, "POST", "/v1/guests", headers: post, body: body)
                #expect((400..<500).contains(r?.status ?? 0), "\(body): \(r?.status ?? 0)")
                let error = r?.json as? [String: Any]
                #expect(error?["field"] as? String == field && !(error?["message"] as? String ?? "").isEmpty, "\(body): \(error ?? [:])")
            }
            #expect(host.text(host.layout.hvConfig) == hvBefore)
            #expect(try FileManager.default.contentsOfDirectory(atPath: host.layout.guestsDir.path).sorted() == foldersBefore)
            expectDocumented("POST", "/v1/guests", headers: post, body: #"{"type":"rt-linux","name":"Controller","memoryMiB":128}"#, status: 200)
            #expect(host.text(host.layout.hvConfig).contains("[Guests\\guest0003]"))
            #expect(host.run("hv", ["guest", "status", "Controller"]).out.contains("\"memoryMiB\" : 128"))
            expectDocumented("GET", "/v1/templates", headers: auth, status: 200)

            // Editing an existing guest: every field's bad value is a 4xx naming it, nothing is written; then a change is saved.
            let editBefore = [
                host.text(host.layout.hvConfig), host.text(host.folder("guestubuntu").appendingPathComponent("guest.config")),
                host.text(host.folder("guestrtlinux").appendingPathComponent("guest.config")),
            ]
            expectDocumented("GET", "/v1/guests/guestubuntu/settings", template: "/v1/guests/{ref}/settings", headers: auth, status: 200)
            expectDocumented("GET", "/v1/guests/guestrtlinux/settings", template: "/v1/guests/{ref}/settings", headers: auth, status: 200)
            expectDocumented("GET", "/v1/guests/nobody/settings", template: "/v1/guests/{ref}/settings", headers: auth, status: 404)
            for (guest, body, field) in [
                ("guestrtlinux", #"{"name":" "}"#, "name"), ("guestrtlinux", #"{"cores":99}"#, "cores"),
                ("guestrtlinux", #"{"memoryMiB":1}"#, "memoryMiB"), ("guestrtlinux", #"{"rtPriority":100}"#, "rtPriority"),
                ("guestrtlinux", #"{"image":"nothing-here"}"#, "image"), ("guestrtlinux", #"{"iso":"x.iso"}"#, "iso"),
                ("guestubuntu", #"{"image":"rt-linux"}"#, "image"), ("guestubuntu", #"{"diskSizeGiB":0}"#, "diskSizeGiB"),
                ("guestubuntu", #"{"isoAttach":"never"}"#, "isoAttach"), ("guestubuntu", #"{"networkMode":"bridge"}"#, "networkMode"),
                ("guestubuntu", #"{"address":"10.77.0.1"}"#, "address"), ("guestubuntu", #"{"address":"300.1.1.1"}"#, "address"),
            ] {
                let r = Self.request(port, "PATCH", "/v1/guests/\(guest)/settings", headers: post, body: body)
                #expect((400..<500).contains(r?.status ?? 0), "\(body): \(r?.status ?? 0)")
                let error = r?.json as? [String: Any]
                #expect(error?["field"] as? String == field && !(error?["message"] as? String ?? "").isEmpty, "\(body): \(error ?? [:])")
            }
            expectDocumented(
                "PATCH", "/v1/guests/guestubuntu/settings", template: "/v1/guests/{ref}/settings", headers: post, body: #"{"diskSizeGiB":0}"#, status: 400)
            #expect(
                [
                    host.text(host.layout.hvConfig), host.text(host.folder("guestubuntu").appendingPathComponent("guest.config")),
                    host.text(host.folder("guestrtlinux").appendingPathComponent("guest.config")),
                ] == editBefore, "refused edits write nothing")
            expectDocumented(
                "PATCH", "/v1/guests/guestubuntu/settings", template: "/v1/guests/{ref}/settings", headers: post,
                body: #"{"memoryMiB":1024,"communication":false}"#, status: 200)
            #expect(host.run("hv", ["guest", "status", "guestubuntu"]).out.contains("\"memoryMiB\" : 1024"))
            #expect(host.text(host.layout.hvConfig).contains(#""Communication"="no""#))

            // A real change through TCP, then read back.
            expectDocumented("POST", "/v1/vmf/load", headers: post, body: #"{"config":""}"#, status: 200)
            expectDocumented("GET", "/v1/comm", headers: auth, status: 200)
            expectDocumented("POST", "/v1/vmf/unload", headers: post, body: #"{"stopGuests":true}"#, status: 200)
            expectDocumented(
                "POST", "/v1/guests/guestubuntu/delete", template: "/v1/guests/{ref}/delete", headers: post, body: #"{"confirm":true}"#, status: 200)
            #expect(!FileManager.default.fileExists(atPath: host.folder("guestubuntu").path))

            // Projects: save, preview (nothing changes), an unconfirmed sync (409), a sync.
            expectDocumented("POST", "/v1/projects", headers: post, body: #"{"name":"mine"}"#, status: 200)
            expectDocumented("POST", "/v1/projects", headers: post, body: #"{"name":"../x"}"#, status: 400)
            expectDocumented("GET", "/v1/projects", headers: auth, status: 200)
            let hvNow = host.text(host.layout.hvConfig)
            let preview = Self.request(port, "GET", "/v1/projects/ubuntu_rtlinux/preview", headers: auth)
            expectDocumented("GET", "/v1/projects/ubuntu_rtlinux/preview", template: "/v1/projects/{name}/preview", headers: auth, status: 200)
            let changes = (preview?.json as? [String: Any])?["changes"] as? [String] ?? []
            #expect(changes.contains { $0.contains("guest0003") && $0.contains("backup") }, "\(changes)")
            #expect(host.text(host.layout.hvConfig) == hvNow, "a preview changes nothing")
            expectDocumented(
                "POST", "/v1/projects/ubuntu_rtlinux/sync", template: "/v1/projects/{name}/sync", headers: post, body: #"{"confirm":false}"#, status: 409)
            #expect(host.text(host.layout.hvConfig) == hvNow)
            expectDocumented(
                "POST", "/v1/projects/ubuntu_rtlinux/sync", template: "/v1/projects/{name}/sync", headers: post, body: #"{"confirm":true}"#, status: 200)
            #expect(
                !FileManager.default.fileExists(atPath: host.folder("guest0003").path)
                    && host.text(host.layout.hvConfig).contains("\"Project\"=\"ubuntu_rtlinux\""))
            expectDocumented("POST", "/v1/projects/mine/sync", template: "/v1/projects/{name}/sync", headers: post, body: #"{"confirm":true}"#, status: 200)
            #expect(
                FileManager.default.fileExists(atPath: host.folder("guest0003").appendingPathComponent("guest.config").path),
                "the saved project brings the guest back")

            // The token, the header and the origin.
            #expect(Self.request(port, "GET", "/v1/guests")?.status == 401)
            #expect(Self.request(port, "GET", "/v1/guests", headers: ["Authorization": "Bearer wrong"])?.status == 401)
            #expect(Self.request(port, "GET", "/v1/guests", headers: ["Cookie": "hv_token=\(token)"])?.status == 401, "a cookie is no token")
            #expect(
                Self.request(port, "POST", "/v1/vmf/load", headers: auth.merging(["Content-Type": "application/json"]) { $1 }, body: #"{"config":""}"#)?.status
                    == 403,
                "no X-HV-Request header: refused")
            #expect(
                Self.request(port, "POST", "/v1/vmf/load", headers: post.merging(["Origin": "http://evil.example"]) { $1 }, body: #"{"config":""}"#)?.status
                    == 403)
            #expect(!FileManager.default.fileExists(atPath: host.layout.vmfState.path), "nothing was loaded by the refused requests")
            // The page and its script are files (no secret in them); no cookie is ever set; the CSP allows no inline script.
            let page = Self.request(port, "GET", "/")
            #expect(page?.status == 200 && String(decoding: page?.body ?? Data(), as: UTF8.self).contains("hv System Manager"))
            #expect(page?.headers["set-cookie"] == nil && page?.headers["x-content-type-options"] == "nosniff")
            let csp = page?.headers["content-security-policy"] ?? ""
            #expect(csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'"), "\(csp)")
            #expect(Self.request(port, "GET", "/manager.js")?.headers["content-type"]?.hasPrefix("text/javascript") == true)
            // The live stream: with the token, or with a ticket that is good once.
            let watch = Self.request(port, "GET", "/v1/watch", headers: auth, readFor: 2)
            let first = String(decoding: watch?.body ?? Data(), as: UTF8.self)
            #expect(first.hasPrefix("event: state\ndata: {") && first.contains("guestrtlinux"), "\(first.prefix(200))")
            #expect(Self.request(port, "POST", "/v1/tickets", headers: auth, body: "{}")?.status == 403, "no X-HV-Request: no ticket")
            let ticket = (Self.request(port, "POST", "/v1/tickets", headers: post, body: "{}")?.json as? [String: Any])?["ticket"] as? String ?? ""
            #expect(ticket.count == 64)
            let byTicket = Self.request(port, "GET", "/v1/watch?ticket=\(ticket)", readFor: 2)
            let ticketText = String(decoding: byTicket?.body ?? Data(), as: UTF8.self)
            #expect(ticketText.hasPrefix("event: state"), "\(ticketText.prefix(200))")
            #expect(Self.request(port, "GET", "/v1/watch?ticket=\(ticket)", readFor: 2)?.status == 401, "a ticket is good once")

            // The metrics token reads the metrics and nothing else.
            let metricsToken = host.run("hv", ["manager", "token", "--metrics"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(
                metricsToken.count == 64 && metricsToken != token
                    && metricsToken == host.text(host.layout.metricsToken).trimmingCharacters(in: .whitespacesAndNewlines))
            let reader = ["Authorization": "Bearer \(metricsToken)"]
            let scraped = Self.request(port, "GET", "/v1/metrics", headers: reader)
            #expect(scraped?.status == 200 && String(decoding: scraped?.body ?? Data(), as: UTF8.self).contains("hv_guest_up"), "\(scraped?.status ?? 0)")
            let hvUnread = host.text(host.layout.hvConfig)
            for (method, path, body) in [
                ("GET", "/v1/guests", nil), ("POST", "/v1/guests/guestrtlinux/start", "{}"), ("POST", "/v1/tickets", "{}"),
                ("PATCH", "/v1/guests/guestrtlinux/settings", #"{"memoryMiB":300}"#), ("POST", "/v1/manager/login-code", "{}"),
            ] {
                let r = Self.request(port, method, path, headers: reader.merging(["X-HV-Request": "1", "Content-Type": "application/json"]) { $1 }, body: body)
                #expect(r?.status == 403, "\(method) \(path) with the metrics token: \(r?.status ?? 0)")
            }
            let rtState = try host.status("guestrtlinux").state
            #expect(host.text(host.layout.hvConfig) == hvUnread && rtState == .stopped)

            // Rotation: root only (not through the port), and the old token, its codes and tickets are dead at once.
            #expect(Self.request(port, "POST", "/v1/manager/rotate", headers: post, body: #"{"credential":"manager"}"#)?.status == 422)
            let spare = (Self.request(port, "POST", "/v1/tickets", headers: post, body: "{}")?.json as? [String: Any])?["ticket"] as? String ?? ""
            let pending = host.run("hv", ["manager", "url"]).out.trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "code=").last ?? ""
            // An event stream opened with the old token, reading on (it would run for 20 s).
            let streamEnded = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                _ = Self.request(port, "GET", "/v1/watch", headers: auth, readFor: 20)
                streamEnded.signal()
            }
            usleep(1_000_000)
            let rotated = host.run("hv", ["manager", "token", "--rotate"])
            #expect(streamEnded.wait(timeout: .now() + 5) == .success, "the old token's open stream ends with the rotation")
            let newToken = rotated.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(rotated.status == 0 && newToken.count == 64 && newToken != token && rotated.err.contains("refused from now on"), "\(rotated.all)")
            #expect(Self.request(port, "GET", "/v1/guests", headers: auth)?.status == 401, "the old token is refused")
            #expect(Self.request(port, "GET", "/v1/guests", headers: ["Authorization": "Bearer \(newToken)"])?.status == 200)
            #expect(Self.request(port, "GET", "/v1/watch?ticket=\(spare)", readFor: 2)?.status == 401, "its tickets are void")
            #expect(
                Self.request(port, "POST", "/v1/manager/login", headers: loginHeaders, body: #"{"code":"\#(pending)"}"#)?.status == 401, "its codes are void")
            #expect(Self.request(port, "GET", "/v1/metrics", headers: reader)?.status == 200, "the metrics token stays")
            let rotatedMetrics = host.run("hv", ["manager", "token", "--metrics", "--rotate"])
            #expect(rotatedMetrics.status == 0 && Self.request(port, "GET", "/v1/metrics", headers: reader)?.status == 401, "\(rotatedMetrics.all)")
            // Both survive an hvd restart.
            #expect(host.run("hv", ["daemon", "stop"]).status == 0)
            #expect(host.run("hv", ["manager", "token"]).out.trimmingCharacters(in: .whitespacesAndNewlines) == newToken)
            _ = rt
        }
    }
}

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
            bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}
