import Foundation
import HVAPI
import HVCore
import HVHost
import HVRealTime

#if canImport(Glibc)
import Glibc
#endif

/// One real-time qualification, run by hvd. The guest measures in pieces
/// (`chunkSeconds` of cyclictest, a thread on every vCPU; where its image has
/// oslat, a few seconds of oslat's busy loop first) and leaves each piece's
/// histograms in its exchange folder (`.hv-qualify/chunk-N`, `oslat-N`); hvd
/// reads each once, bounded and strictly (the guest wrote it), adds it up
/// and writes the report (JSON and HTML, atomically) after every piece, so
/// what was measured is kept however the run ends: its time, a break, a
/// stop, the guest's end or hvd's.
final class QualificationRun: Sendable {
    let request: QualifyRequest
    let dir: URL
    let exchange: URL
    let chunkSeconds: Int
    private let host: Host
    private let state: Monitor<State>

    /// What the run needs of the host (hvd's in service; stand-ins in tests).
    struct Host: Sendable {
        var guestRunning: @Sendable () -> Bool
        var rtCores: [Int]
        /// Where --load runs: the cores no RT guest has.
        var loadCores: [Int]
        var post: @Sendable (LifecycleEvent.Kind, String) -> Void
        var log: @Sendable (String) -> Void
    }

    private struct State {
        var report: QualificationReport
        var next = 0
        var stopAsked = false
        /// The end has begun (it happens once, whoever calls it first).
        var ending = false
        var lastChunkAt = Date()
        var steal: [Int: Int] = [:]
        var interrupts: [Int: Int] = [:]
        var load: Process?
        /// oslat's output could not be read once: its figures end there, cyclictest's go on.
        var oslatGaveUp = false
    }

    /// The guest's folder for the run's pieces, and the file that stops its loop.
    static let guestDir = ".hv-qualify"
    static let stopFile = ".hv-qualify-stop"
    static let buckets = 20_000

    init(request: QualifyRequest, dir: URL, exchange: URL, report: QualificationReport, host: Host) {
        self.request = request
        self.dir = dir
        self.exchange = exchange
        self.host = host
        chunkSeconds = max(5, min(60, request.durationSeconds / 6))
        state = Monitor(State(report: report))
    }

    var chunks: Int { (request.durationSeconds + chunkSeconds - 1) / chunkSeconds }
    /// oslat's share of a piece (it warms up for a second more; cyclictest has the rest).
    var oslatSeconds: Int { max(1, chunkSeconds / 6) }
    /// Where the guest leaves its pieces: its folder, so neither it nor a piece is followed if it is a link.
    var pieces: URL { exchange.appendingPathComponent(Self.guestDir) }
    var status: QualificationStatus { state.withLock { $0.report.status } }
    var isEnded: Bool { state.withLock { $0.report.status.state.ended } }

    /// The guest's loop, typed once at its shell (in the background): pieces
    /// until the planned count, a stop file or a break; then the trace's
    /// tail after a break, and `done`. Where the image has oslat, each piece
    /// begins with it (`o` set) and cyclictest has the rest of the piece; its
    /// output is moved in before cyclictest's, so a piece is whole when
    /// `chunk-N` is there.
    /// (Short: busybox's line editor takes about a kilobyte a line.)
    func guestScript(folder: String) -> String {
        let traced = request.breakMicroseconds != nil
        let tracing =
            "[ -e $t/trace ] || mount -t tracefs nodev $t; echo 1 > $t/events/sched/sched_switch/enable; echo 1 > $t/events/irq/enable; echo 1 > $t/tracing_on; "
        let b = request.breakMicroseconds.map { " -b \($0) --tracemark" } ?? ""
        let vcpus = state.withLock { $0.report.status.vcpus.count }
        let cpus = vcpus > 1 ? "0-\(vcpus - 1)" : "0"
        return "(e=/hv/guests/\(folder)/exchange; d=$e/\(Self.guestDir); t=/sys/kernel/tracing; rm -rf $d; mkdir -p $d; uname -r > $d/kernel; "
            + "o=; c=\(chunkSeconds); command -v oslat >/dev/null && o=1 c=\(chunkSeconds - oslatSeconds - 1); "
            + (traced ? tracing : "")
            + "i=0; while [ $i -lt \(chunks) ] && [ ! -e $e/\(Self.stopFile) ]; do "
            + "[ $o ] && oslat -q -z -b \(OslatOutput.buckets) -c \(cpus) -D \(oslatSeconds) > $d/.o 2>&1; "
            + "cyclictest -m -q -p 80 -i 1000 -t -a -h \(Self.buckets) -D $c\(b) > $d/.c 2>&1; [ $o ] && mv $d/.o $d/oslat-$i; mv $d/.c $d/chunk-$i; i=$((i+1)); "
            + "grep -q '^# Break value' $d/chunk-$((i-1)) && break; done; "
            + (traced ? "echo 0 > $t/tracing_on; tail -n 2000 $t/trace > $d/.t; mv $d/.t $d/trace; " : "")
            + "touch $d/done) > /dev/null 2>&1 &"
    }

    /// Starts the host's load and the watch; the guest's loop was started by the caller.
    func begin() throws {
        if request.load { try startLoad() }
        state.withLock {
            $0.steal = CPUSteal.sample()
            $0.interrupts = Self.interrupts(host.rtCores)
            $0.lastChunkAt = Date()
        }
        try write()
        Thread.detachNewThread { [self] in watch() }
    }

    /// Ends the run early; what was measured is kept.
    func stop() { state.withLock { $0.stopAsked = true } }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: 1)
            let (next, stopAsked, last, ending) = state.withLock { ($0.next, $0.stopAsked, $0.lastChunkAt, $0.ending) }
            if ending { return }
            if stopAsked { return end(.stopped, note: "stopped early by request: \(next) of \(chunks) pieces measured") }
            if !host.guestRunning() { return end(.failed, note: "the guest stopped during the run") }
            if let text = try? GuestWritten.readText("chunk-\(next)", in: pieces, maxBytes: 8 << 20) {
                do {
                    if let result = try take(text) { return end(result.0, note: result.1) }
                } catch {
                    return end(.failed, note: "piece \(next): \((error as? HVError)?.message ?? "\(error)")")
                }
            } else if Date().timeIntervalSince(last) > Double(chunkSeconds * 4 + 90) {
                return end(.failed, note: "the guest wrote no measurement for \(Int(Date().timeIntervalSince(last))) s (is cyclictest in its image?)")
            }
        }
    }

    /// Adds one piece; the end it brings (its time, a break), or nil to go on.
    private func take(_ text: String) throws -> (QualificationStatus.State, String)? {
        let out = try CyclictestOutput.parse(text, buckets: Self.buckets)
        let (next, vcpus) = state.withLock { ($0.next, $0.report.status.vcpus.count) }
        guard out.threads.count == vcpus else {
            throw HVError(.io, "cyclictest measured \(out.threads.count) threads, the guest has \(vcpus) vCPUs")
        }
        let steal = CPUSteal.sample(), interrupts = Self.interrupts(host.rtCores)
        let kernel =
            next > 0
            ? nil
            : (try? GuestWritten.readText("kernel", in: pieces, maxBytes: 256))
                .map { Self.printable($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        let oslat = readOslat(next, vcpus: vcpus)
        let broke = request.breakMicroseconds.flatMap { limit in
            out.breakMicroseconds ?? out.threads.map(\.max).filter { $0 > limit }.max()
        }
        state.withLock { s in
            if let kernel { s.report.context.guestKernel = kernel }
            s.report.histograms = zip(s.report.histograms, out.threads).map { $0.adding($1) }
            switch oslat {
            case .none: break
            case .read(let threads):
                s.report.addOslat(threads, seconds: oslatSeconds)
            case .unreadable(let why):
                s.oslatGaveUp = true
                s.report.status.notes.append(why)
            }
            s.report.refigure()
            s.next += 1
            s.report.status.measuredSeconds = min(request.durationSeconds, s.next * chunkSeconds)
            s.lastChunkAt = Date()
            if let broke {
                let cores = host.rtCores
                s.report.status.broke = QualificationBreak(
                    microseconds: broke,
                    hostSteal: Dictionary(uniqueKeysWithValues: cores.map { (String($0), (steal[$0] ?? 0) - (s.steal[$0] ?? 0)) }),
                    hostInterrupts: Dictionary(uniqueKeysWithValues: cores.map { (String($0), (interrupts[$0] ?? 0) - (s.interrupts[$0] ?? 0)) }),
                    trace: nil)
            }
            s.steal = steal
            s.interrupts = interrupts
        }
        if broke != nil {
            // Read first: the guest writes it after its loop, up to 30 s on, and status requests wait on the lock.
            let trace = readTrace()
            state.withLock { $0.report.status.broke?.trace = trace }
            return (.broke, "a latency above \(request.breakMicroseconds ?? 0) µs stopped the run in piece \(next)")
        }
        if next + 1 >= chunks { return (.passed, "") }
        try write()
        return nil
    }

    private enum OslatPiece { case none, read([LatencyHistogram]), unreadable(String) }

    /// oslat's part of piece `n`: none when the image has no oslat (or its
    /// output was unreadable before: cyclictest's figures go on without it).
    private func readOslat(_ n: Int, vcpus: Int) -> OslatPiece {
        let name = "oslat-\(n)"
        guard !state.withLock({ $0.oslatGaveUp }), GuestWritten.exists(name, in: pieces) else { return .none }
        do {
            let threads = try OslatOutput.parse(GuestWritten.readText(name, in: pieces, maxBytes: 1 << 20), buckets: OslatOutput.buckets)
            guard threads.count == vcpus else { throw HVError(.io, "oslat measured \(threads.count) vCPUs, the guest has \(vcpus)") }
            return .read(threads)
        } catch {
            return .unreadable("oslat's output of piece \(n) could not be read, so its figures end there: \((error as? HVError)?.message ?? "\(error)")")
        }
    }

    /// The guest's trace after a break (it writes it once its loop ends), bounded, as text.
    private func readTrace() -> String? {
        for _ in 0..<30 {
            if let t = try? GuestWritten.readText("trace", in: pieces, maxBytes: 512 << 10) { return Self.printable(t) }
            Thread.sleep(forTimeInterval: 1)
        }
        return nil
    }

    /// The end: the report's last state, the baseline, an event; the load stops
    /// and the guest's loop is told to stop (it ends after its piece).
    func end(_ result: QualificationStatus.State, note: String, baseline: URL? = nil) {
        guard
            state.withLock({ s -> Bool in
                defer { s.ending = true }
                return !s.ending
            })
        else { return }
        let load = state.withLock { s -> Process? in
            defer { s.load = nil }
            return s.load
        }
        if let load, load.isRunning {
            load.terminate()
            load.waitUntilExit()
        }
        unlink(dir.appendingPathComponent("load.pid").path)
        Self.askGuestToStop(exchange)
        var final = result
        let baselineFile = baseline ?? dir.deletingLastPathComponent().appendingPathComponent("baseline.json")
        let base = result == .passed ? Self.readStatus(baselineFile) : nil
        state.withLock { s in
            if !note.isEmpty { s.report.status.notes.append(note) }
            if let base {
                let c = QualificationBaseline.compare(s.report.status.total, with: base)
                s.report.status.comparison = c
                if c.regressed { final = .regressed }
            }
            s.report.status.state = final
        }
        do {
            try write()
            if final == .passed, base == nil {
                try AtomicFile.write(APIJSON.encode(status), to: baselineFile)
            }
        } catch {
            host.log("the qualification's report could not be written: \(error)")
        }
        let s = status
        let words = "\(s.run): max \(s.total.max) µs, p99.99 \(s.total.p9999) µs over \(s.measuredSeconds) s; report \(s.reportHTML)"
        switch final {
        case .passed: host.post(.rtQualified, words + (s.comparison.map { "; " + $0.summary } ?? "; kept as the baseline"))
        case .regressed: host.post(.rtRegressed, (s.comparison?.summary ?? "regressed") + "; " + words)
        default: host.post(.rtQualificationEnded, "\(final.rawValue): " + (note.isEmpty ? "" : note + "; ") + words)
        }
    }

    /// The report as it stands, both files at once (each atomically).
    func write() throws {
        let report = state.withLock { s -> QualificationReport in
            s.report.status.updatedAt = Date().timeIntervalSince1970.rounded()
            return s.report
        }
        try AtomicFile.write(APIJSON.encode(report), to: URL(fileURLWithPath: report.status.reportJSON))
        try AtomicFile.write(Data(QualificationHTML.render(report).utf8), to: URL(fileURLWithPath: report.status.reportHTML))
        try AtomicFile.write(APIJSON.encode(report.status), to: Self.latest(dir.deletingLastPathComponent()))
    }

    /// The newest run's status (figures without histograms): what the metrics read.
    static func latest(_ qualifyDir: URL) -> URL { qualifyDir.appendingPathComponent("latest.json") }

    /// stress-ng on the cores no RT guest has (CPU, memory, I/O), as nobody. Its
    /// pid is kept in the run's folder: a new hvd after a crash ends it.
    private func startLoad() throws {
        guard let stress = Executables.find("stress-ng") else {
            throw HVError(.notFound, "--load needs stress-ng", hint: "apt-get install stress-ng; nothing was started")
        }
        let others = host.loadCores
        guard !others.isEmpty else { throw HVError(.unsupported, "--load needs a core that no RT guest has") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "--",
            stress, "--cpu", String(max(1, others.count)), "--vm", "1", "--vm-bytes", "5%", "--hdd", "1", "--hdd-bytes", "64M",
            "--temp-path", "/tmp", "--taskset", others.map(String.init).joined(separator: ","),
            "--timeout", "\(request.durationSeconds + 120)s", "--quiet",
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        try? AtomicFile.write(Data("\(p.processIdentifier)\n".utf8), to: dir.appendingPathComponent("load.pid"))
        state.withLock { $0.load = p }
    }

    /// Tells the guest's loop to end after its piece. Created without
    /// following anything (the exchange folder is the guest's to write).
    static func askGuestToStop(_ exchange: URL) {
        let fd = open(exchange.appendingPathComponent(stopFile).path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if fd >= 0 { close(fd) }
    }

    /// Interrupts per core (/proc/interrupts, every line added up) for the RT cores.
    static func interrupts(_ cores: [Int], file: String = "/proc/interrupts") -> [Int: Int] {
        guard let text = SysFS().text(file) else { return [:] }
        let lines = text.split(separator: "\n")
        guard let head = lines.first else { return [:] }
        let cpus = head.split(separator: " ").compactMap { Int($0.dropFirst(3)) }
        var out: [Int: Int] = [:]
        for line in lines.dropFirst() {
            let cols = line.split(separator: " ").dropFirst()
            for (i, col) in cols.prefix(cpus.count).enumerated() {
                guard let n = Int(col) else { break }
                if cores.contains(cpus[i]) { out[cpus[i], default: 0] += n }
            }
        }
        return out
    }

    static func readStatus(_ url: URL) -> QualificationStatus? {
        guard let data = try? TrustedFile.readConfig(url), data.count <= 1 << 20 else { return nil }
        return try? JSONDecoder().decode(QualificationStatus.self, from: data)
    }

    /// A guest's text for the report: printable characters and line breaks only.
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\n" || $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7f) ? $0 : "?" }))
    }
}
