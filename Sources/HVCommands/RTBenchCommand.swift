import ArgumentParser
import Foundation
import HVAPI
import HVCore
import HVHost
import HVRealTime

/// `hv rt bench GUEST`: cyclictest inside the RTOS guest; histogram, numbers
/// and a plot; with --compare, the same guest without hv's placement too.
struct RTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure latency inside an RTOS guest with cyclictest, and plot it.")
    @Argument(help: "The running RT-Linux guest (name or folder)") var guest: String
    @Option(help: "Seconds to measure.") var duration: Int = 10
    @Option(help: "cyclictest interval in µs.") var interval: Int = 1000
    @Option(help: "cyclictest's SCHED_FIFO priority inside the guest.") var priority: Int = 80
    @Flag(help: "Load every host core with stress-ng while measuring.") var load = false
    @Flag(help: "Also measure the same guest without hv's placement, and compare.") var compare = false

    func validate() throws {
        guard (1...3600).contains(duration) else { throw ValidationError("--duration takes 1 to 3600 seconds") }
        guard (50...1_000_000).contains(interval) else { throw ValidationError("--interval takes 50 to 1000000 µs") }
        guard (1...99).contains(priority) else { throw ValidationError("--priority takes 1 to 99") }
    }

    func run() throws {
        let ctx = Context()
        let api = ctx.api
        let g = try api.get(.guestStatus(guest), as: GuestStatus.self)
        guard g.os == GuestOS.rtLinux.rawValue else {
            throw HVError(.unsupported, "\(g.name) is not an RT-Linux guest: hv rt bench runs cyclictest inside RT-Linux")
        }
        guard g.state == .running, g.booted else {
            throw HVError(
                .conflict, "\(g.name) is \(g.state.rawValue)\(g.state == .running ? " and still booting" : "")",
                hint: "start it first: hv guest start \(g.folder)")
        }
        if load && !FileManager.default.isExecutableFile(atPath: "/usr/bin/stress-ng") {
            throw HVError(.notFound, "--load needs stress-ng", hint: "apt-get install stress-ng")
        }
        var series: [LatencyPlot.Series] = []
        var steal: [[Int: Int]] = []
        let placed = try measure(api, g, label: "placed")
        series.append(.init(label: "hv placement", histogram: placed.histogram))
        steal.append(placed.steal)
        if compare {
            Out.say("restarting \(g.name) without hv's placement for the comparison")
            _ = try api.post(.guestStop(g.folder), StopRequest(force: false), as: ActionResult.self)
            _ = try api.post(.guestStart(g.folder), StartRequest(wait: true, placement: false), as: ActionResult.self)
            let unplaced = Result { try measure(api, g, label: "unplaced") }
            // Back as it was, whatever the measurement did.
            _ = try api.post(.guestStop(g.folder), StopRequest(force: false), as: ActionResult.self)
            _ = try api.post(.guestStart(g.folder), StartRequest(wait: true), as: ActionResult.self)
            let other = try unplaced.get()
            series.append(.init(label: "without placement", histogram: other.histogram))
            steal.append(other.steal)
        }
        report(series, steal: steal, g)
        // The placed run's figures for hvd's metrics (root's file in the guest folder, not the guest's).
        let h = placed.histogram
        try AtomicFile.write(
            APIJSON.encode(
                RTBenchSummary(
                    endedAt: Date().timeIntervalSince1970.rounded(), durationSeconds: duration, samples: h.samples,
                    minMicroseconds: h.min, avgMicroseconds: h.avg, maxMicroseconds: h.max, overflows: h.overflows)),
            to: RTBenchSummary.file(in: ctx.layout.guest(g.folder)))
        let dir = ctx.layout.guest(g.folder).url
        let title = "cyclictest in \(g.name): \(duration) s, \(interval) µs interval\(load ? ", host under stress-ng" : "")"
        let svg = dir.appendingPathComponent("rt-bench.svg"), png = dir.appendingPathComponent("rt-bench.png")
        try AtomicFile.write(LatencyPlot.svg(series, title: title), to: svg)
        do {
            try LatencyPlot.renderPNG(svg: svg, to: png)
            Out.say("plot: \(svg.path) and rt-bench.png")
        } catch let e as HVError {
            Out.say("plot: \(svg.path) (\(e.message); \(e.hint ?? ""))")
        }
    }

    func measure(_ api: APIClient, _ g: GuestStatus, label: String) throws -> (histogram: LatencyHistogram, steal: [Int: Int]) {
        let file = "rt-bench-\(label).txt"
        let loops = max(1, duration * 1_000_000 / interval)
        var stress: Process?
        if load {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/stress-ng")
            p.arguments = ["--cpu", "0", "--timeout", "\(duration + 5)s", "--quiet"]
            try p.run()
            stress = p
        }
        defer {
            if let s = stress, s.isRunning {
                s.terminate()
                s.waitUntilExit()
            }
        }
        Out.say("measuring \(label): cyclictest -m -p \(priority) -i \(interval) -l \(loops) in \(g.name)…")
        // The result goes through the guest's exchange folder in /hv/guests, not the console.
        let cmd = "cyclictest -m -p \(priority) -i \(interval) -l \(loops) -q -h 20000 > /hv/guests/\(g.folder)/exchange/\(file) 2>&1"
        let before = CPUSteal.sample()
        _ = try GuestShell.run(api, guest: g.folder, command: cmd, doneMarker: "hv-bench-done-", timeout: Double(duration) * 3 + 60)
        let steal = CPUSteal.delta(before, CPUSteal.sample())
        // The guest wrote it: read without following links, bounded, and parse strictly.
        let host = Context().layout.guest(g.folder).exchangeDir.appendingPathComponent(file)
        return (try LatencyHistogram.parse(GuestWritten.readText(host, maxBytes: 4 << 20)), steal)
    }

    func report(_ series: [LatencyPlot.Series], steal: [[Int: Int]], _ g: GuestStatus) {
        var rows = [["run", "samples", "min µs", "avg µs", "p99 µs", "max µs", "host steal ms"]]
        for (s, st) in zip(series, steal) {
            let h = s.histogram
            let stolen = st.keys.sorted().map { "core \($0): \(st[$0] ?? 0)" }.joined(separator: ", ")
            rows.append([s.label, String(h.samples), String(h.min), String(h.avg), String(h.percentile(0.99)), String(h.max), stolen])
        }
        Out.say(Out.table(rows))
        if series.count == 2 {
            let a = series[0].histogram, b = series[1].histogram
            func ratio(_ x: Int, _ y: Int) -> String { y == 0 ? "-" : String(format: "%.2f", Double(x) / Double(y)) }
            Out.say("ratio hv / without: avg \(ratio(a.avg, b.avg)), p99 \(ratio(a.percentile(0.99), b.percentile(0.99))), max \(ratio(a.max, b.max))")
        }
        if steal.contains(where: { $0.values.contains { $0 > 0 } }) {
            Out.say(
                "note: this host is itself a virtual machine whose hypervisor took time from its cores while measuring (host steal); such pauses reach the guest whatever hv does"
            )
        }
        if g.accelerator == "tcg" {
            Out.say("note: under TCG no real-time guarantee holds; compare runs by ratio, never quote these as real-time numbers")
        }
    }
}
