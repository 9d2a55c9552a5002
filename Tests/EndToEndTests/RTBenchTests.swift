import Foundation
import HVAPI
import HVCore
import Testing

extension EndToEnd {
    @Suite struct RTBenchRun {
        /// cyclictest in the real guest, placed and unplaced, with its plots.
        /// `hv guest start NAME --no-placement`: the baseline a qualification compares with.
        @Test func aGuestStartsWithoutPlacementWhenAsked() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare()
            let start = host.run("hv", ["guest", "start", "guestrtlinux", "--no-placement"])
            try #require(start.status == 0, "\(start.all)")
            #expect(start.out.contains("without hv's placement"), "\(start.out)")
            let status = try host.status("guestrtlinux")
            #expect(!status.schedFIFO && status.state == .running, "\(status)")
            #expect(host.run("hv", ["guest", "stop", "--force", "guestrtlinux"]).status == 0)
            let placed = host.run("hv", ["guest", "start", "guestrtlinux"])
            #expect(placed.status == 0 && (try? host.status("guestrtlinux").schedFIFO) == true, "\(placed.all)")
            #expect(host.run("hv", ["guest", "stop", "--force", "guestrtlinux"]).status == 0)
        }

        @Test func measuresComparesAndPlots() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let early = host.run("hv", ["rt", "bench", "guestrtlinux", "--duration", "1"])
            #expect(early.status == 5 && early.err.contains("start it first"), "\(early.all)")
            #expect(host.run("hv_guest_start", cwd: dir).status == 0)
            let r = host.run("hv", ["rt", "bench", "guestrtlinux", "--duration", "2", "--compare"], timeout: 240)
            #expect(r.status == 0, "\(r.all)")
            #expect(r.out.contains("hv placement") && r.out.contains("without placement") && r.out.contains("ratio hv / without"), "\(r.out)")
            let samples = r.out.split(separator: "\n").filter { $0.hasPrefix("hv placement") || $0.hasPrefix("without placement") }
                .compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first.flatMap { Int($0) } }
            #expect(samples == [2000, 2000], "\(samples)")
            // The time this machine's own hypervisor took from each core, per run.
            #expect(r.out.contains("host steal ms") && r.out.contains("core 0: "), "\(r.out)")
            let svg = try String(contentsOf: dir.appendingPathComponent("rt-bench.svg"), encoding: .utf8)
            #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n") && svg.contains("without placement: min"))
            let png = try Data(contentsOf: dir.appendingPathComponent("rt-bench.png"))
            #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) && png.count > 500)
            // Left as it was: running, with hv's placement.
            let g = try #require(try JSONDecoder().decode([GuestStatus].self, from: Data(host.run("hv", ["guest", "list", "--json"]).out.utf8)).first)
            #expect(g.state == .running && g.booted)
            let last = ProcessInfo.processInfo.activeProcessorCount - 1
            if last > 0 { #expect(g.cores == [last] && g.vcpuPlacement.first?.cores == [last]) }
            #expect(!g.notes.contains { $0.contains("without hv's placement") })
        }
    }
}
