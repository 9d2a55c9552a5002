import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

/// GET /v1/metrics: hvd's state for Prometheus (scrape it through the System
/// Manager's listener with its token, or the Unix socket). Counters count
/// since this hvd started (Prometheus handles the reset when it restarts).
final class DaemonMetrics: Sendable {
    struct Key: Hashable {
        var listener: String
        var status: Int
    }
    private let requests = Monitor([Key: Int]())

    /// One API request answered, by listener and status code (bounded: a few codes, two listeners).
    func countRequest(listener: String, status: Int) {
        requests.withLock { $0[Key(listener: listener, status: status), default: 0] += 1 }
    }

    /// The counts, ordered by listener, then status.
    var requestCounts: [(key: Key, count: Int)] {
        requests.withLock { $0.sorted { ($0.key.listener, $0.key.status) < ($1.key.listener, $1.key.status) }.map { ($0.key, $0.value) } }
    }
}

extension DaemonContext {
    func metricsText() -> String {
        var m = MetricsText()
        let guests = allStatuses()
        let counts = events.counts
        m.family("hv_guest_info", .gauge, "A guest hv knows, with its name, OS and kind (always 1).")
        for g in guests { m.sample("hv_guest_info", [("guest", g.folder), ("name", g.name), ("os", g.os), ("kind", g.kind)], 1) }
        m.family("hv_guest_state", .gauge, "1 for the guest's current state, 0 for the others.")
        for g in guests {
            for s in GuestState.allCases {
                m.sample("hv_guest_state", [("guest", g.folder), ("state", s.rawValue)], g.state == s ? 1 : 0)
            }
        }
        m.family("hv_guest_up", .gauge, "1 while the guest's QEMU runs and its boot finished.")
        for g in guests { m.sample("hv_guest_up", [("guest", g.folder)], g.state == .running && g.booted && g.paused == nil ? 1 : 0) }
        m.family("hv_guest_paused", .gauge, "1 while QEMU holds the guest paused at a failed write (its disk's file system full).")
        for g in guests { m.sample("hv_guest_paused", [("guest", g.folder)], g.paused == nil ? 0 : 1) }
        m.family("hv_guest_start_time_seconds", .gauge, "When the guest's QEMU started (Unix time); its uptime is time() minus this.")
        for g in guests {
            if let s = g.startedAt, let d = Self.parseISO(s) {
                m.sample("hv_guest_start_time_seconds", [("guest", g.folder)], d.timeIntervalSince1970.rounded())
            }
        }
        for (name, kind, help) in [
            ("hv_guest_starts_total", LifecycleEvent.Kind.started, "Starts of the guest since hvd started."),
            ("hv_guest_crashes_total", .crashed, "Times the guest's QEMU ended without being asked."),
            ("hv_guest_restarts_total", .restarting, "Restarts by the guest's OnCrash policy."),
            ("hv_guest_watchdog_total", .watchdog, "Times the guest's watchdog expired."),
            ("hv_guest_heartbeat_missed_total", .heartbeatMissed, "Missed RT-Linux heartbeats."),
            ("hv_guest_pauses_total", .paused, "Times QEMU paused the guest at a failed write (a full disk)."),
        ] {
            m.family(name, .counter, help)
            for g in guests { m.sample(name, [("guest", g.folder)], Double(counts[g.folder]?[kind] ?? 0)) }
        }
        m.family("hv_guest_vcpu_placement_held", .gauge, "RTOS guests: 1 while every vCPU thread runs on its reserved cores with SCHED_FIFO.")
        for g in guests where g.kind == GuestKind.rtos.rawValue && g.state == .running {
            let held =
                !g.vcpuPlacement.isEmpty && g.vcpuPlacement.allSatisfy { $0.policy == "fifo" && Set($0.cores).isSubset(of: Set(g.cores)) && !$0.cores.isEmpty }
            m.sample("hv_guest_vcpu_placement_held", [("guest", g.folder)], held ? 1 : 0)
        }
        m.family("hv_guest_console_log_bytes", .gauge, "The size of the guest's console.log.")
        for g in guests { m.sample("hv_guest_console_log_bytes", [("guest", g.folder)], Double(FileSize.of(layout.guest(g.folder).consoleLog))) }
        m.family("hv_guest_clock_offset_seconds", .gauge, "The guest's clock minus the host's, as hvd last measured it over the VMF network.")
        for g in guests { if let c = g.clock { m.sample("hv_guest_clock_offset_seconds", [("guest", g.folder)], c.offsetSeconds) } }

        let vmfStatus = vmf.status()
        m.family("hv_vmf_loaded", .gauge, "1 while the VMF is loaded.")
        m.sample("hv_vmf_loaded", [], vmfStatus.loaded ? 1 : 0)
        m.family("hv_rt_core", .gauge, "A core reserved for an RTOS guest while the VMF is loaded (always 1).")
        for (folder, cores) in vmfStatus.reservedCores.sorted(by: { $0.key < $1.key }) {
            for c in cores { m.sample("hv_rt_core", [("core", String(c)), ("guest", folder)], 1) }
        }
        m.family("hv_rt_core_steal_seconds_total", .counter, "Time this machine's own hypervisor took from each reserved core (/proc/stat steal).")
        let steal = CPUSteal.sample()
        for core in Set(vmfStatus.reservedCores.values.flatMap { $0 }).sorted() {
            m.sample("hv_rt_core_steal_seconds_total", [("core", String(core))], Double(steal[core] ?? 0) / 1000)
        }
        m.family("hv_rt_bench_latency_seconds", .gauge, "The last `hv rt bench` in the guest: cyclictest's min, avg and max latency.")
        m.family("hv_rt_bench_time_seconds", .gauge, "When the last `hv rt bench` of the guest ended (Unix time).")
        for g in guests {
            guard let b = RTBenchSummary.read(from: layout.guest(g.folder)) else { continue }
            for (stat, us) in [("min", b.minMicroseconds), ("avg", b.avgMicroseconds), ("max", b.maxMicroseconds)] {
                m.sample("hv_rt_bench_latency_seconds", [("guest", g.folder), ("stat", stat)], Double(us) / 1e6)
            }
            m.sample("hv_rt_bench_time_seconds", [("guest", g.folder)], b.endedAt)
        }
        m.family("hv_rt_qualification_latency_seconds", .gauge, "The guest's newest `hv rt qualify`: max, p99 and p99.99 latency over every vCPU.")
        m.family("hv_rt_qualification_running", .gauge, "1 while a qualification of the guest runs.")
        m.family("hv_rt_qualification_passed", .gauge, "1 when the newest qualification ran its time without a break and did not regress.")
        m.family("hv_rt_qualification_regressed", .gauge, "1 when the newest qualification was more than the margin worse than the guest's baseline.")
        m.family("hv_rt_qualification_measured_seconds", .gauge, "How long the newest qualification has measured.")
        m.family("hv_rt_qualification_time_seconds", .gauge, "When the newest qualification's figures were last written (Unix time).")
        for g in guests {
            guard let q = QualificationRun.readStatus(QualificationRun.latest(layout.guest(g.folder).url.appendingPathComponent("qualify"))) else { continue }
            let labels = [("guest", g.folder)]
            for (stat, us) in [("max", q.total.max), ("p99", q.total.p99), ("p9999", q.total.p9999)] {
                m.sample("hv_rt_qualification_latency_seconds", labels + [("stat", stat)], Double(us) / 1e6)
            }
            m.sample("hv_rt_qualification_running", labels, q.state == .running ? 1 : 0)
            m.sample("hv_rt_qualification_passed", labels, q.state == .passed ? 1 : 0)
            m.sample("hv_rt_qualification_regressed", labels, q.state == .regressed ? 1 : 0)
            m.sample("hv_rt_qualification_measured_seconds", labels, Double(q.measuredSeconds))
            m.sample("hv_rt_qualification_time_seconds", labels, q.updatedAt)
        }
        m.family("hv_api_requests_total", .counter, "API requests hvd answered, by listener and HTTP status.")
        let requests = metrics.requestCounts
        for r in requests { m.sample("hv_api_requests_total", [("code", String(r.key.status)), ("listener", r.key.listener)], Double(r.count)) }
        m.family("hv_api_errors_total", .counter, "API requests answered with a status of 400 or more.")
        for listener in ["manager", "socket"] {
            m.sample(
                "hv_api_errors_total", [("listener", listener)],
                Double(requests.filter { $0.key.listener == listener && $0.key.status >= 400 }.reduce(0) { $0 + $1.count }))
        }
        m.family("hv_daemon_start_time_seconds", .gauge, "When this hvd started (Unix time).")
        m.sample("hv_daemon_start_time_seconds", [], startedAt.timeIntervalSince1970.rounded())
        return m.text
    }

    /// "2026-12-01T06:08:18Z" (what `Timestamp.iso8601` writes) back to a date.
    static func parseISO(_ s: String) -> Date? {
        let u = Array(s.utf8)
        guard u.count == 20, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"),
            u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"), u[19] == UInt8(ascii: "Z")
        else { return nil }
        func num(_ a: Int, _ b: Int) -> Int32? { Int32(String(decoding: u[a..<b], as: UTF8.self)) }
        guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13), let mi = num(14, 16), let se = num(17, 19) else { return nil }
        var parts = tm()
        parts.tm_year = y - 1900
        parts.tm_mon = mo - 1
        parts.tm_mday = d
        parts.tm_hour = h
        parts.tm_min = mi
        parts.tm_sec = se
        return Date(timeIntervalSince1970: Double(timegm(&parts)))
    }
}
