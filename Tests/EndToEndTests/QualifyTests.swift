import Foundation
import HVAPI
import HVCore
import HVRealTime
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// `hv rt qualify` with the real RT-Linux guest: runs of 60 s (the
    /// machine builder's are hours), each ending in a report.
    @Suite struct Qualify {
        /// hvd's metrics on its socket (root's: no token there).
        func metrics(_ host: TestHost) -> String {
            guard let s = try? UnixSocket.connect(to: host.layout.daemonSocket.path) else { return "" }
            defer { s.close() }
            try? s.write("GET /v1/metrics HTTP/1.1\r\nHost: hvd\r\nConnection: close\r\n\r\n")
            var out = Data()
            while let d = try? s.read(timeout: 5), !d.isEmpty { out += d }
            return String(decoding: out, as: UTF8.self)
        }

        /// The newest run's whole record, as hvd wrote it.
        func newest(_ host: TestHost) throws -> QualificationReport {
            let dir = host.layout.guest("guestrtlinux").url.appendingPathComponent("qualify")
            let runs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasSuffix(".json") }.sorted()
            let run = try #require(runs.last, "no run under \(dir.path)")
            return try JSONDecoder().decode(
                QualificationReport.self,
                from: Data(contentsOf: dir.appendingPathComponent(run).appendingPathComponent("report.json")))
        }

        /// A qualification under load: every vCPU measured, the report and its
        /// JSON, kept as the baseline. Then the guest started without hv's
        /// placement: the next run is flagged a regression in the report, the
        /// events and the metrics, and the command's status says so.
        @Test func aRunUnderLoadIsTheBaselineAndOneWithoutPlacementRegresses() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            try #require(host.run("hv_guest_start", cwd: dir).status == 0)
            let vcpus = try host.status("guestrtlinux").vcpus
            let first = host.run("hv", ["rt", "qualify", "guestrtlinux", "--duration", "60", "--load"], timeout: 400)
            #expect(first.status == 0 && first.out.contains(": passed;"), "\(first.all)")
            let r1 = try newest(host)
            #expect(r1.status.state == .passed && r1.status.measuredSeconds == 60 && r1.status.comparison == nil)
            #expect(r1.histograms.count == vcpus && r1.status.vcpus.allSatisfy { $0.samples > 1000 }, "every vCPU measured: \(r1.status.vcpus)")
            #expect(r1.status.load.contains("stress-ng") && !r1.context.guestKernel.isEmpty && !r1.context.audit.isEmpty, "\(r1.context)")
            let html1 = host.text(URL(fileURLWithPath: r1.status.reportHTML))
            #expect(html1.contains("Passed") && html1.contains("id=\"histogram\"") && html1.contains("vCPU 0"))
            // The image has oslat: each piece began with its busy loop on every vCPU.
            let oslat = try #require(r1.status.osLatency, "oslat's figures: \(r1.status.notes)")
            #expect(oslat.measuredSeconds == 6 && oslat.vcpus.count == vcpus && oslat.vcpus.allSatisfy { $0.samples > 1000 && $0.max > 0 }, "\(oslat)")
            #expect(html1.contains("id=\"oslat\"") && html1.contains("id=\"oslat-histogram\"") && first.out.contains("oslat"), "\(first.out)")
            let baseline = host.layout.guest("guestrtlinux").url.appendingPathComponent("qualify/baseline.json")
            #expect(FileManager.default.fileExists(atPath: baseline.path), "the first passing run is the baseline")
            #expect(host.text(host.layout.daemonLog).contains("rt-qualified"), "the event")
            #expect(metrics(host).contains("hv_rt_qualification_passed{guest=\"guestrtlinux\"} 1"))
            let loadPid = URL(fileURLWithPath: r1.status.reportJSON).deletingLastPathComponent().appendingPathComponent("load.pid")
            #expect(!FileManager.default.fileExists(atPath: loadPid.path), "the load ended with the run")

            #expect(host.run("hv", ["guest", "stop", "--force", "guestrtlinux"]).status == 0)
            #expect(host.run("hv", ["guest", "start", "guestrtlinux", "--no-placement"]).status == 0)
            try #require(host.waitUntil(120) { (try? host.status("guestrtlinux").booted) == true })
            let second = host.run("hv", ["rt", "qualify", "guestrtlinux", "--duration", "60", "--load"], timeout: 400)
            #expect(second.status == 1 && second.out.contains(": regressed;") && second.out.contains("regressed against the baseline"), "\(second.all)")
            let r2 = try newest(host)
            #expect(r2.status.state == .regressed && r2.status.comparison?.baselineRun == r1.status.run, "\(r2.status)")
            #expect(
                r2.context.placement.first == "started without hv's placement (--no-placement)"
                    && r1.context.placement.first?.contains("(fifo ") == true, "\(r1.context.placement) \(r2.context.placement)")
            #expect(host.text(URL(fileURLWithPath: r2.status.reportHTML)).contains("Regression"))
            #expect(host.text(host.layout.daemonLog).contains("rt-regressed"))
            #expect(metrics(host).contains("hv_rt_qualification_regressed{guest=\"guestrtlinux\"} 1"))
            #expect(host.run("hv", ["guest", "stop", "--force", "guestrtlinux"]).status == 0)
        }

        /// The Debian root, where a user's controller lives: hvd types at
        /// root's bash there (autologin on the serial console), and its
        /// rt-tests has cyclictest and oslat.
        @Test func theDebianRootIsQualifiedToo() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(root: .debian)
            let start = host.run("hv_guest_start", cwd: dir, timeout: 240)
            try #require(start.status == 0, "\(start.all)")
            try #require(host.waitUntil(240) { (try? host.status("guestrtlinux").booted) == true })
            let r = host.run("hv", ["rt", "qualify", "guestrtlinux", "--duration", "20"], timeout: 300)
            #expect(r.status == 0 && r.out.contains(": passed;"), "\(r.all)")
            let report = try newest(host)
            #expect(report.status.state == .passed && report.status.vcpus.allSatisfy { $0.samples > 100 }, "\(report.status)")
            #expect(report.context.guestKernel.contains("rt"), "\(report.context.guestKernel)")
            let oslat = try #require(report.status.osLatency, "rt-tests in the Debian root has oslat: \(report.status.notes)")
            #expect(oslat.measuredSeconds == 4 && oslat.vcpus.allSatisfy { $0.samples > 1000 }, "\(oslat)")
            #expect(host.run("hv", ["guest", "stop", "--force", "guestrtlinux"]).status == 0)
        }

        /// --break-us 1: the first latency above 1 µs ends the run, and the
        /// report carries the guest's kernel trace and the host's RT cores.
        @Test func aBreakStopsTheRunWithATrace() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            try #require(host.run("hv_guest_start", cwd: dir).status == 0)
            let r = host.run("hv", ["rt", "qualify", "guestrtlinux", "--duration", "60", "--break-us", "1"], timeout: 300)
            #expect(r.status == 1 && r.out.contains(": broke;"), "\(r.all)")
            let report = try newest(host)
            let broke = try #require(report.status.broke)
            #expect(broke.microseconds > 1 && report.status.measuredSeconds < 60, "\(report.status)")
            #expect(!broke.hostSteal.isEmpty && !broke.hostInterrupts.isEmpty)
            #expect(broke.trace?.contains("hit latency threshold") == true, "cyclictest's mark in the trace: \(broke.trace?.suffix(300) ?? "none")")
            #expect(host.text(URL(fileURLWithPath: report.status.reportHTML)).contains("id=\"trace\""))
            #expect(
                !FileManager.default.fileExists(atPath: host.layout.guest("guestrtlinux").url.appendingPathComponent("qualify/baseline.json").path),
                "a broken run is no baseline")
            #expect(host.run("hv", ["guest", "stop", "--force", "guestrtlinux"]).status == 0)
        }

        /// hvd killed during a run: the next hvd reports it interrupted, with
        /// what was measured, ends its load, and no file is half-written.
        @Test func killingHvdEndsTheRunAsInterrupted() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            try #require(host.run("hv_guest_start", cwd: dir).status == 0)
            let started = host.run("hv", ["rt", "qualify", "guestrtlinux", "--duration", "600", "--load", "--detach"], timeout: 200)
            try #require(started.status == 0, "\(started.all)")
            try #require(host.waitUntil(120) { ((try? newest(host))?.status.measuredSeconds ?? 0) > 0 }, "no piece measured")
            let runDir = URL(fileURLWithPath: try newest(host).status.reportJSON).deletingLastPathComponent()
            let loadPid = Int32(host.text(runDir.appendingPathComponent("load.pid")).trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(loadPid != nil, "the load's pid is kept beside the report")
            let hvd = try #require(host.hvdPid)
            kill(hvd, SIGKILL)
            #expect(host.waitUntil(10) { !TestHost.isAlive(hvd) })
            let status = host.run("hv", ["rt", "qualify", "guestrtlinux", "--status"])
            #expect(status.status == 0 && status.out.contains(": interrupted;"), "\(status.all)")
            let report = try newest(host)
            #expect(report.status.state == .interrupted && report.status.total.samples > 0, "what was measured is kept")
            #expect(host.text(URL(fileURLWithPath: report.status.reportHTML)).hasSuffix("</html>\n"))
            if let loadPid { #expect(host.waitUntil(20) { !TestHost.isAlive(loadPid) }, "the load ended with the run") }
            // The guest's loop was told to stop: no piece arrives after the next one.
            let stop = host.layout.guest("guestrtlinux").exchangeDir.appendingPathComponent(".hv-qualify-stop")
            #expect(FileManager.default.fileExists(atPath: stop.path))
            #expect(host.run("hv", ["guest", "stop", "--force", "guestrtlinux"]).status == 0)
        }
    }
}
