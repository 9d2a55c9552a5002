import Foundation
import HVCore
import Testing

@testable import HVHost

/// What a guest wrote is read without following a link it planted, in the
/// file or in the folder that holds it, and never past its bound.
@Suite struct GuestWrittenTests {
    @Test func neitherALinkedFolderNorALinkedFileIsRead() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-written-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let host = root.appendingPathComponent("host"), exchange = root.appendingPathComponent("exchange")
        try FileManager.default.createDirectory(at: host, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: exchange.appendingPathComponent("real"), withIntermediateDirectories: true)
        try "host secret".write(to: host.appendingPathComponent("trace"), atomically: true, encoding: .utf8)
        try "guest text".write(to: exchange.appendingPathComponent("real/trace"), atomically: true, encoding: .utf8)
        #expect(try GuestWritten.readText("trace", in: exchange.appendingPathComponent("real"), maxBytes: 100) == "guest text")
        // The guest's folder replaced by a link to one of the host's.
        try FileManager.default.createSymbolicLink(at: exchange.appendingPathComponent("linked"), withDestinationURL: host)
        #expect(throws: HVError.self) { try GuestWritten.readText("trace", in: exchange.appendingPathComponent("linked"), maxBytes: 100) }
        // The file itself a link.
        try FileManager.default.createSymbolicLink(at: exchange.appendingPathComponent("real/kernel"), withDestinationURL: host.appendingPathComponent("trace"))
        #expect(throws: HVError.self) { try GuestWritten.readText("kernel", in: exchange.appendingPathComponent("real"), maxBytes: 100) }
        // A FIFO would block a plain read; a file past the bound is refused.
        #expect(mkfifo(exchange.appendingPathComponent("real/fifo").path, 0o600) == 0)
        #expect(throws: HVError.self) { try GuestWritten.readText("fifo", in: exchange.appendingPathComponent("real"), maxBytes: 100) }
        #expect(throws: HVError.self) { try GuestWritten.readText("trace", in: exchange.appendingPathComponent("real"), maxBytes: 5) }
        // Looking whether a file is there tells nothing of the host's folders behind a link.
        #expect(GuestWritten.exists("trace", in: exchange.appendingPathComponent("real")))
        #expect(GuestWritten.exists("kernel", in: exchange.appendingPathComponent("real")), "a link is there (and is not followed)")
        #expect(!GuestWritten.exists("trace", in: exchange.appendingPathComponent("linked")), "the host's trace, behind the guest's link")
        #expect(!GuestWritten.exists("none", in: exchange.appendingPathComponent("real")))
    }
}
