import Foundation
import HVCore
import Testing

@testable import HVAPI

/// The API's parser refuses what breaks the rules with the status a client
/// should see, and never traps (the fuzz targets run the same functions).
@Suite struct HTTPWireTests {
    func head(_ s: String) -> Data { Data(s.utf8) }

    func status(_ s: String) -> Int? {
        do {
            let r = try HTTPHead.parseRequest(head(s))
            _ = try HTTPHead.contentLength(r.headers, limits: .server)
            _ = try r.segments()
            return nil
        } catch let e as HTTPError { return e.status } catch { return -1 }
    }

    @Test func aGoodRequestParses() throws {
        let r = try HTTPHead.parseRequest(head("POST /v1/guests/Plant%20HMI/start?replay=boot&x HTTP/1.1\r\nHost: hvd\r\nContent-Length: 12\r\n"))
        #expect(r.method == "POST" && r.path == "/v1/guests/Plant%20HMI/start")
        #expect(try r.segments() == ["v1", "guests", "Plant HMI", "start"])
        #expect(r.query == ["replay": "boot", "x": ""])
        #expect(try HTTPHead.contentLength(r.headers, limits: .server) == 12)
    }

    @Test func whatOnceKilledHvdIsABadRequest() {
        #expect(status("GET /v1/vmf?= HTTP/1.1\r\n") == nil, "an empty query item is skipped")
        #expect(status("GET /v1/vmf?=&&=x HTTP/1.1\r\n") == nil)
        #expect(status("POST /v1/vmf HTTP/1.1\r\nContent-Length: -1\r\n") == 400)
        #expect(status("POST /v1/vmf HTTP/1.1\r\nContent-Length: +5\r\n") == 400)
        #expect(status("POST /v1/vmf HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n") == 400)
        #expect(status("POST /v1/vmf HTTP/1.1\r\nContent-Length: 2000000\r\n") == 413)
        #expect(status("POST /v1/vmf HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n") == 400)
        #expect(status("POST /v1/vmf HTTP/1.1\r\nTransfer-Encoding: chunked\r\n") == 501)
    }

    @Test func malformedHeadsAreRefused() {
        #expect(status("") == 400)
        #expect(status("GET\r\n") == 400)
        #expect(status("get /v1/vmf HTTP/1.1\r\n") == 400)
        #expect(status("GET  /v1/vmf HTTP/1.1\r\n") == 400)
        #expect(status("GET v1/vmf HTTP/1.1\r\n") == 400)
        #expect(status("GET /v1/vmf HTTP/2\r\n") == 505)
        #expect(status("GET /v1/\u{01}vmf HTTP/1.1\r\n") == 400)
        #expect(status("GET /v1/guests/%zz HTTP/1.1\r\n") == 400)
        #expect(status("GET /v1/guests/%ff HTTP/1.1\r\n") == 400, "not UTF-8")
        #expect(status("GET /v1/guests/x?a=%4 HTTP/1.1\r\n") == 400)
        #expect(status("GET /v1/vmf HTTP/1.1\r\nNo colon here\r\n") == 400)
        #expect(status("GET /v1/vmf HTTP/1.1\r\nBad Name: x\r\n") == 400)
        #expect(status("GET /v1/vmf HTTP/1.1\r\nX: a\u{00}b\r\n") == 400)
        let many = (0..<100).map { "X-\($0): y\r\n" }.joined()
        #expect(status("GET /v1/vmf HTTP/1.1\r\n" + many) == 431)
        #expect(status("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n") == 414)
    }

    @Test func anyNameTravelsAsOneSegment() throws {
        for name in ["Plant HMI", "a?b=c", "x/y", "100%", "ü", "a+b", "#frag"] {
            let path = Endpoint.guestStart(name).path
            #expect(!path.contains(" ") && !path.contains("?") && !path.contains("#"))
            let r = try HTTPHead.parseRequest(Data("POST \(path) HTTP/1.1\r\n".utf8))
            #expect(Endpoint.match(method: r.method, segments: try r.segments()) == .endpoint(.guestStart(name)), "\(name)")
        }
    }

    @Test func twoNamesTravelInTheirOwnPlaces() throws {
        let e = Endpoint.snapshotRevert("Plant HMI/2", "before update")
        let r = try HTTPHead.parseRequest(Data("POST \(e.path) HTTP/1.1\r\n".utf8))
        #expect(Endpoint.match(method: r.method, segments: try r.segments()) == .endpoint(e))
        #expect(Endpoint.match(method: "GET", segments: ["v1", "guests", "g", "snapshots", "s", "revert"]) == .methodNotAllowed(allowed: ["POST"]))
        #expect(Endpoint.match(method: "POST", segments: ["v1", "guests", "g", "snapshots", "", "revert"]) == .notFound)
    }

    @Test func everyEndpointMatchesItself() {
        let all: [Endpoint] = [
            .vmfStatus, .vmfLoad, .vmfUnload, .guestList, .guestCreate, .guestStatus("g"), .guestStart("g"),
            .guestStop("g"), .guestRestart("g"), .guestResume("g"), .guestDeletionPlan("g"), .guestDelete("g"), .guestScreenshot("g"),
            .guestConsole("g"), .guestSettings("g"), .guestUpdateSettings("g"), .guestCores("g"), .commStatus,
            .netAttach, .netDetach, .eventSignal("e"), .eventWait("e"), .projectList, .projectSave,
            .projectPreview("p"), .projectSync("p"), .templates, .host, .manager, .daemonShutdown, .watch,
            .consoleSocket("g"), .displaySocket("g"), .ticket, .lifecycle, .autostart, .autostartSet, .resetHost, .metrics, .projectPlan("p"),
            .projectStore("p"),
            .bridgesDelete, .eventSession, .hostDevices, .managerLoginCode, .managerLogin, .managerRotate,
            .snapshotList("g"), .snapshotCreate("g"), .snapshotRevert("g", "s"), .snapshotDelete("g", "s"),
            .guestBackup("g"), .guestBackupProgress("g"), .guestRestore, .qualifyStart("g"), .qualifyStatus("g"), .qualifyStop("g"), .backupPrune,
            .exampleOpen("e"),
        ]
        #expect(all.count == Endpoint.declarations.count, "a case without a declaration, or a declaration without a case")
        #expect(
            Set(all.map(Endpoint.caseName)).count == all.count && Set(Endpoint.declarations.map(\.caseName)) == Set(all.map(Endpoint.caseName)),
            "each case declared exactly once")
        for e in all {
            #expect(Endpoint.match(method: e.method, segments: ["v1"] + e.segments) == .endpoint(e), "\(e)")
        }
        #expect(Endpoint.match(method: "DELETE", segments: ["v1", "guests", "g"]) == .methodNotAllowed(allowed: ["GET"]))
        #expect(Endpoint.match(method: "GET", segments: ["v1", "nothing"]) == .notFound)
        #expect(Endpoint.match(method: "GET", segments: ["v2", "vmf"]) == .notFound)
    }

    @Test func controlCharactersNeverReachAConfigFile() throws {
        #expect(throws: ConfigError.self) {
            try ConfigSchema.check("a\nb", as: .text, key: "Name", section: "Guest", file: "f", line: 0)
        }
        #expect(throws: ConfigError.self) {
            try ConfigSchema.check("a\u{0}b", as: .text, key: "Name", section: "Guest", file: "f", line: 0)
        }
        try ConfigSchema.check("Plant \"HMI\" \\ 2", as: .text, key: "Name", section: "Guest", file: "f", line: 0)
        var doc = RegistryDocument(fileName: "t.config")
        doc.set("Guest", "Name", "line\nbreak")
        // The text a writer would get is refused, so no writer has anything to write.
        #expect(throws: HVError.self) { try RegistryFile.checkedText(doc, for: URL(fileURLWithPath: "/tmp/t.config")) }
    }
}

@Suite struct WebSocketFrameTests {
    func read(_ bytes: [UInt8]) throws -> WebSocketFrame.Frame {
        var offset = 0
        return try WebSocketFrame.readClientFrame { n in
            guard n >= 0, n <= bytes.count - offset else { throw HVError(.io, "end") }
            defer { offset += n }
            return Array(bytes[offset..<(offset + n)])
        }
    }

    @Test func aMaskedFrameDecodes() throws {
        let mask: [UInt8] = [1, 2, 3, 4]
        let payload = Array("hi".utf8).enumerated().map { $0.element ^ mask[$0.offset % 4] }
        let f = try read([0x81, 0x82] + mask + payload)
        #expect(f.opcode == .text && f.payload == Array("hi".utf8) && f.fin)
    }

    @Test func framesThatBreakTheProtocolAreRefused() {
        let mask: [UInt8] = [0, 0, 0, 0]
        #expect(throws: WebSocketFrame.Invalid.self) { try read([0x81, 0x02, 0x41, 0x42]) }  // unmasked
        #expect(throws: WebSocketFrame.Invalid.self) { try read([0xC1, 0x80] + mask) }  // RSV1
        #expect(throws: WebSocketFrame.Invalid.self) { try read([0x83, 0x80] + mask) }  // opcode 3
        #expect(throws: WebSocketFrame.Invalid.self) { try read([0x09, 0x80] + mask) }  // fragmented ping
        #expect(throws: WebSocketFrame.Invalid.self) { try read([0x89, 0xFE, 0x00, 0x7E] + mask) }  // 126-byte ping
        // The 64-bit length with its top bit set once became a negative length.
        #expect(throws: WebSocketFrame.Invalid.self) { try read([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1] + mask) }
        #expect(throws: WebSocketFrame.Invalid.self) { try read([0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0] + mask) }
        #expect(throws: (any Error).self) { try read([0x82, 0x85] + mask + [1, 2]) }  // short payload
    }
}
