import Foundation
import HVAPI
import HVCore
import HVHost
import HVRealTime

#if canImport(Glibc)
import Glibc
#endif

/// `hv rt qualify`: a guest's qualification, one at a time, run by hvd
/// (QualificationRun). Its reports live in the guest's folder, root's:
/// `qualify/RUN/report.html` and `report.json`, and `qualify/baseline.json`
/// (the first passing run's figures).
extension GuestSupervisor {
    var qualifyDir: URL { folder.url.appendingPathComponent("qualify") }

    func qualify(_ r: QualifyRequest) throws -> QualificationStatus {
        guard QualifyRequest.durations.contains(r.durationSeconds) else {
            throw HVError(.invalidArgument, "a qualification runs \(QualifyRequest.durations.lowerBound) s to 7 days, not \(r.durationSeconds) s")
        }
        if let b = r.breakMicroseconds, !QualifyRequest.breaks.contains(b) {
            throw HVError(.invalidArgument, "--break-us takes 1 to 1000000 µs, not \(b)")
        }
        let g = status()
        guard g.os == GuestOS.rtLinux.rawValue else {
            throw HVError(.unsupported, "\(g.name) is not an RT-Linux guest: a qualification runs cyclictest inside RT-Linux")
        }
        guard g.state == .running, g.booted else {
            throw HVError(
                .conflict, "\(g.name) is \(g.state.rawValue)\(g.state == .running ? " and still booting" : "")",
                hint: "start it first: hv guest start \(g.folder)")
        }
        guard try GuestConfig.load(from: folder).shareGuestsFolder else {
            throw HVError(
                .unsupported, "\(g.name) does not share /hv/guests, where a qualification's measurements come back",
                hint: "set \"ShareGuestsFolder\"=\"yes\" and restart it")
        }
        // Claimed at once: of two requests at the same moment, one starts and the other is told.
        try shared.withLock { s in
            if s.qualificationStarting || s.qualification.map({ !$0.isEnded }) == true {
                throw HVError(
                    .conflict, "\(g.name) is already being qualified\(s.qualification.map { " (run \($0.status.run))" } ?? "")",
                    hint: "follow it with hv rt qualify \(g.folder) --status, or end it with --stop")
            }
            s.qualificationStarting = true
        }
        defer { shared.withLock { $0.qualificationStarting = false } }
        let run = Timestamp.compact()
        let dir = qualifyDir.appendingPathComponent(run)
        // As the kernel has the threads now, said plainly when the guest was started without hv's placement.
        let unplaced = g.notes.contains { $0.contains("without hv's placement") }
        let placement =
            (unplaced ? ["started without hv's placement (--no-placement)"] : [])
            + g.vcpuPlacement.enumerated().map { i, p in "vCPU \(i) → core \(p.cores.map(String.init).joined(separator: ",")) (\(p.policy) \(p.priority))" }
        let audit = RealTimeAudit(facts: ctx.facts, rtCores: g.cores, kernelVersion: RealTimeAudit.hostKernel()).run().map(\.line)
        // The load goes where no RT guest runs: the host's cores, where the KVM guests' vCPUs run too (another RT guest is never loaded).
        let reserved = Set(ctx.vmf.current?.reservedCores.values.flatMap { $0 } ?? []).union(g.cores)
        let loadCores = (0..<ctx.facts.cpuCount).filter { !reserved.contains($0) }
        if r.load && loadCores.isEmpty {
            throw HVError(
                .unsupported, "--load needs a core that no RT guest has, and every core of this host is reserved",
                hint: "qualify without --load; nothing was started")
        }
        let load =
            r.load ? Self.loadWords(cores: loadCores, kvmGuests: ctx.allSupervisors.filter { $0 !== self }.map { $0.status() }) : "none (the host as it is)"
        let status = QualificationStatus(
            run: run, guest: folder.name, state: .running, startedAt: Date().timeIntervalSince1970.rounded(), updatedAt: 0,
            plannedSeconds: r.durationSeconds, measuredSeconds: 0, load: load, breakMicroseconds: r.breakMicroseconds,
            vcpus: Array(repeating: QualificationReport.figures(.empty), count: g.vcpus), total: QualificationReport.figures(.empty),
            comparison: nil, broke: nil, reportHTML: dir.appendingPathComponent("report.html").path,
            reportJSON: dir.appendingPathComponent("report.json").path,
            notes: g.accelerator == "tcg" ? ["under TCG no real-time guarantee holds: compare runs by ratio, never quote these as real-time numbers"] : [])
        let context = QualificationReport.Context(
            guestName: g.name, guestKernel: "", hostKernel: RealTimeAudit.hostKernel(),
            accelerator: g.accelerator ?? "", placement: placement,
            audit: audit)
        let report = QualificationReport(status: status, histograms: Array(repeating: .empty, count: g.vcpus), context: context)
        let name = folder.name, ctx = self.ctx
        let host = QualificationRun.Host(
            guestRunning: { [weak self] in self?.currentState == .running },
            rtCores: g.cores,
            loadCores: loadCores,
            post: { kind, words in ctx.events.post(kind, guest: name, words) },
            log: { ctx.log.warning("\(name): \($0)") })
        let job = QualificationRun(request: r, dir: dir, exchange: folder.exchangeDir, report: report, host: host)
        // A stop file left by an earlier run would end this one at once (unlink never follows a link).
        unlink(folder.exchangeDir.appendingPathComponent(QualificationRun.stopFile).path)
        try typeAtConsole(job.guestScript(folder: folder.name), who: "hvd (a qualification)")
        try job.begin()
        shared.withLock { $0.qualification = job }
        ctx.events.post(
            .rtQualificationStarted, guest: name,
            "\(run): \(r.durationSeconds) s, load \(r.load ? "on" : "off")\(r.breakMicroseconds.map { ", break above \($0) µs" } ?? ""); report \(status.reportHTML)"
        )
        return job.status
    }

    /// The load in words: its cores and the running KVM guests whose vCPUs it shares them with.
    static func loadWords(cores: [Int], kvmGuests: [GuestStatus]) -> String {
        let list = CPUList.format(Set(cores))
        let beside = kvmGuests.filter { GuestOS(rawValue: $0.os)?.kind == .kvm && $0.state == .running }.sorted { $0.name < $1.name }.map { g in
            let on = Set(g.vcpuPlacement.flatMap(\.cores)).intersection(cores)
            return "\(g.name) (\(g.vcpus) vCPUs\(on.isEmpty ? "" : ", on cores \(CPUList.format(on))"))"
        }
        return "stress-ng on cores \(list) (CPU, memory, I/O), the host's cores where the KVM guests' vCPUs run; "
            + (beside.isEmpty ? "no KVM guest was running" : "running there: " + beside.joined(separator: ", "))
    }

    /// The run under way, else the latest on record.
    func qualificationStatus() throws -> QualificationStatus {
        if let job = shared.withLock({ $0.qualification }) { return job.status }
        guard let latest = QualificationRun.readStatus(QualificationRun.latest(qualifyDir)) else {
            throw HVError(.notFound, "\(folder.name) has not been qualified yet", hint: "hv rt qualify \(folder.name) --duration 12h")
        }
        return latest
    }

    func stopQualification() throws -> QualificationStatus {
        guard let job = shared.withLock({ $0.qualification }), !job.isEnded else {
            throw HVError(.notFound, "no qualification of \(folder.name) is running")
        }
        job.stop()
        let deadline = Date().addingTimeInterval(10)
        while !job.isEnded && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        return job.status
    }

    /// A line typed at the guest's shell through its serial console (held
    /// meanwhile like any console client's; refused while someone has it).
    func typeAtConsole(_ command: String, who: String) throws {
        try shared.withLock { s in
            if let holder = s.consoleHolder {
                throw HVError(
                    .conflict, "the console of \(folder.name) is open (\(holder)), and the qualification starts there",
                    hint: "detach it (Ctrl-]) and try again")
            }
            s.consoleHolder = "held by \(who) since \(Timestamp.clock()) UTC"
        }
        defer { shared.withLock { $0.consoleHolder = nil } }
        let serial: UnixSocket
        do { serial = try UnixSocket.connect(to: folder.serialSocket.path, timeout: 3) } catch {
            throw HVError(.io, "cannot reach the serial console of \(folder.name): \(error)")
        }
        defer { serial.close() }
        _ = try ConsolePrompt.run(serial, command: command, doneMarker: "hv-qualify-typed-", timeout: 150)
    }
}

extension DaemonContext {
    /// A run that a previous hvd left "running" ended with it: it is marked
    /// interrupted (its figures kept), its load ended, the guest's loop told
    /// to stop. Only a guest's newest run can be one (one at a time), so
    /// start-up reads each guest's small latest.json, not every report.
    func recoverQualifications() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.guestsDir.path)) ?? []
        for name in names.sorted() {
            let folder = layout.guest(name)
            let qualify = folder.url.appendingPathComponent("qualify")
            guard let latest = QualificationRun.readStatus(QualificationRun.latest(qualify)), latest.state == .running else { continue }
            let dir = qualify.appendingPathComponent(latest.run)
            let json = dir.appendingPathComponent("report.json")
            guard let data = try? TrustedFile.readConfig(json), data.count <= 64 << 20,
                let report = try? JSONDecoder().decode(QualificationReport.self, from: data), report.status.state == .running
            else { continue }
            if let text = try? TrustedFile.readConfig(dir.appendingPathComponent("load.pid")),
                let pid = Int32(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
                SysFS().text("/proc/\(pid)/comm")?.hasPrefix("stress-ng") == true
            {
                kill(pid, SIGTERM)
            }
            // The run's own end, as if it had ended under this hvd: one way to write its last report and say so.
            let request = QualifyRequest(durationSeconds: report.status.plannedSeconds, breakMicroseconds: report.status.breakMicroseconds)
            let host = QualificationRun.Host(
                guestRunning: { false }, rtCores: [], loadCores: [],
                post: { [events] kind, words in events.post(kind, guest: name, words) },
                log: { [log] in log.warning("\(name): \($0)") })
            QualificationRun(request: request, dir: dir, exchange: folder.exchangeDir, report: report, host: host)
                .end(.interrupted, note: "hvd ended during the run; what was measured until then is kept")
        }
    }
}
