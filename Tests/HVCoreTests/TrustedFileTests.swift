import Foundation
import Testing

@testable import HVCore

/// What hv runs or parses as root must be writable by root alone.
@Suite struct TrustedFileTests {
    func scratch() throws -> URL {
        let dir = URL(fileURLWithPath: "/tmp/hv-trust-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        return dir
    }

    @Test func aFileOnlyRootCanWriteIsAccepted() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("hook.sh")
        try AtomicFile.write("exit 0\n", to: f, mode: 0o755)
        try TrustedFile.check(f, use: "hv runs it as root")
    }

    @Test func writableByOthersALinkOrAnOpenFolderIsRefusedWithTheFix() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("usr.config")
        try AtomicFile.write("[Guest]\n", to: f, mode: 0o666)
        do {
            try TrustedFile.check(f, use: "hv reads it as root")
            Issue.record("accepted a world-writable file")
        } catch let e as HVError {
            #expect(e.message.contains(f.path) && e.message.contains("mode 666"), "\(e)")
            #expect(e.hint?.contains("chmod go-w") == true && e.hint?.contains("nothing was started") == true, "\(e)")
        }
        #expect(throws: HVError.self) { try RegistryFile.read(f) }
        chmod(f.path, 0o644)
        chown(f.path, 12345, 0)
        #expect(throws: HVError.self) { try TrustedFile.check(f, use: "x") }
        chown(f.path, 0, 0)
        let link = dir.appendingPathComponent("guest.config")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: f)
        #expect(throws: HVError.self) { try TrustedFile.check(link, use: "x") }
        chmod(dir.path, 0o777)
        do {
            try TrustedFile.check(f, use: "x")
            Issue.record("accepted a file in a world-writable folder")
        } catch let e as HVError {
            #expect(e.message.contains("its folder \(dir.path)"), "\(e)")
        }
        chmod(dir.path, 0o1777)
        try TrustedFile.check(f, use: "x")  // sticky, like /tmp: others cannot replace it
    }
}
