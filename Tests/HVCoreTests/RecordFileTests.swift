import Foundation
import Testing

@testable import HVSystem

/// hvd's records: written with their format, read back, an older hv's read
/// as it is, damage kept aside and reported (never taken for "nothing"), a
/// newer hv's left alone and never written over.
@Suite struct RecordFileTests {
    struct Held: Codable, Equatable { var devices: [String: String] }

    let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hv-records-\(UUID().uuidString.prefix(6))")
    var file: RecordFile<Held> { RecordFile(root.appendingPathComponent("run/devices.json"), what: "the test's devices") }

    func withRoot(writer: Bool, _ body: (RecordFile<Held>, Monitor<[String]>) throws -> Void) rethrows {
        try? FileManager.default.createDirectory(at: root.appendingPathComponent("run"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let heard = Monitor<[String]>([])
        if writer { RecordFiles.setReporter(for: root) { m in heard.withLock { $0.append(m) } } }
        try body(file, heard)
    }

    func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("run").path)) ?? []).sorted()
    }

    @Test func aRecordComesBackAsWrittenWithItsFormat() throws {
        try withRoot(writer: true) { f, heard in
            #expect(f.value == nil)
            if case .absent = f.read() {} else { Issue.record("no file reads as absent") }
            try f.write(Held(devices: ["0000:03:00.0": "guestrtlinux"]))
            #expect(f.value == Held(devices: ["0000:03:00.0": "guestrtlinux"]))
            let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: f.url)) as? [String: Any]
            #expect(raw?["format"] as? Int == RecordFile<Held>.format)
            #expect(heard.withLock { $0 }.isEmpty)
        }
    }

    /// What an hv before the format number wrote: read as it is, written back in the new format.
    @Test func anOlderHvsRecordIsReadAndMigrated() throws {
        try withRoot(writer: true) { f, _ in
            try Data(#"{"devices":{"0000:04:00.0":"guestubuntu"}}"#.utf8).write(to: f.url)
            let old = try #require(f.value)
            #expect(old.devices == ["0000:04:00.0": "guestubuntu"])
            try f.write(old)
            #expect(String(decoding: try Data(contentsOf: f.url), as: UTF8.self).contains("\"format\""))
            #expect(f.value == old)
        }
    }

    @Test(arguments: ["", "{\"devices\":{\"0000:03", "{\"format\":1,\"record\":{\"devices\":7}}", "\u{0}\u{0}\u{0}"])
    func aDamagedRecordIsKeptAsideAndReported(text: String) throws {
        try withRoot(writer: true) { f, heard in
            try Data(text.utf8).write(to: f.url)
            guard case .damaged(let aside, let why) = f.read() else {
                Issue.record("\(text.debugDescription) was not taken for damage")
                return
            }
            let kept = try #require(aside)
            #expect(try Data(contentsOf: kept) == Data(text.utf8), "the damaged bytes are kept as they were")
            #expect(!FileManager.default.fileExists(atPath: f.url.path))
            #expect(files() == [kept.lastPathComponent] && kept.lastPathComponent.hasPrefix("devices.json.damaged-"))
            let said = heard.withLock { $0 }
            #expect(said.count == 1 && said[0].contains(f.url.path) && said[0].contains(kept.path) && said[0].contains(why), "\(said)")
            // hvd goes on with a fresh record, and the next read sees that, not the damage.
            try f.write(Held(devices: [:]))
            #expect(f.value == Held(devices: [:]))
        }
    }

    /// A command (no hvd for this root) says so and leaves the file for hvd.
    @Test func aCommandOnlyReportsDamage() throws {
        try withRoot(writer: false) { f, _ in
            try Data("{".utf8).write(to: f.url)
            guard case .damaged(let aside, _) = f.read() else {
                Issue.record("not damage")
                return
            }
            #expect(aside == nil)
            #expect(try Data(contentsOf: f.url) == Data("{".utf8))
        }
    }

    /// A downgrade: the newer hv's record is left as it is, reported, and not written over.
    @Test func aNewerHvsRecordIsNeitherReadNorReplaced() throws {
        try withRoot(writer: true) { f, heard in
            let newer = #"{"format":99,"record":{"devices":{},"more":true}}"#
            try Data(newer.utf8).write(to: f.url)
            guard case .newer(let format) = f.read() else {
                Issue.record("not taken for a newer format")
                return
            }
            #expect(format == 99)
            #expect(throws: HVError.self) { try f.write(Held(devices: [:])) }
            #expect(String(decoding: try Data(contentsOf: f.url), as: UTF8.self) == newer)
            #expect(heard.withLock { $0 }.first?.contains("newer hv (format 99") == true)
        }
    }
}
