import Foundation
import Testing

@testable import HVCore

/// The hook hv writes runs what a user appends to it (it used to end in `exit 0`).
@Suite struct ShutdownHookTemplateTests {
    @Test func aLineAppendedToTheTemplateRuns() throws {
        let dir = URL(fileURLWithPath: "/tmp/hv-hook-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let hook = dir.appendingPathComponent("vm_shutdown_hook.sh")
        try (GuestFiles.shutdownHook + "echo appended-line-ran\n").write(to: hook, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [hook.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("appended-line-ran"))
    }
}
