import Foundation
import HVEngine
import HVHost
import Testing

@testable import HVSetup

/// hv setup compiles the guest tools from texts embedded in hv; they must be guest/'s.
@Suite struct GuestToolSourcesTests {
    static let guest = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("guest")

    @Test func embeddedSourcesMatchTheFiles() throws {
        for (embedded, path) in [
            (GuestToolSources.ivshmemModule, "hv_ivshmem/hv_ivshmem.c"),
            (GuestToolSources.ivshmemKbuild, "hv_ivshmem/Kbuild"),
            (GuestToolSources.commTool, "hv-comm/hv-comm.c"),
        ] {
            let file = try String(contentsOf: Self.guest.appendingPathComponent(path), encoding: .utf8)
            #expect(embedded == file, "\(path) changed: run python3 scripts/embed-sources.py")
        }
    }

    /// The tool compiles cleanly with the flags hv setup uses, warnings as errors.
    @Test func theToolCompiles() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hv-comm-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try Command.run(
            [
                "gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out.path,
                Self.guest.appendingPathComponent("hv-comm/hv-comm.c").path,
            ], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// A wait's timeout is a number from 0 to a day (its milliseconds go to the driver as a u32),
    /// refused with the rule before the tool looks for any event.
    @Test func aBadTimeoutIsRefusedWithTheRule() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("hv-comm-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: out) }
        let built = try Command.run(["gcc", "-O2", "-o", out.path, Self.guest.appendingPathComponent("hv-comm/hv-comm.c").path], timeout: 120)
        try #require(built.status == 0, "\(built.stderr)")
        for bad in ["abc", "nan", "-1", "1e12", "2x", ""] {
            let r = try Command.run([out.path, "event", "wait", "ev", bad], timeout: 10)
            #expect(r.status == 2 && r.stderr.contains("TIMEOUT_SECONDS must be a number from 0 to 86400"), "\(bad): \(r.stderr)")
        }
        // A good one gets past the check (and then finds no events table on this machine).
        let good = try Command.run([out.path, "event", "wait", "ev", "0.5"], timeout: 10)
        #expect(!good.stderr.contains("TIMEOUT_SECONDS"), "\(good.stderr)")
    }
}
