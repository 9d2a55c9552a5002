import Foundation
import HVAPI
import HVCore
import HVRealTime
import Testing

@testable import HVDaemon

/// The qualification's moving parts without a guest: the line typed at the
/// guest's shell, and a run fed pieces as a guest leaves them.
@Suite struct QualificationRunTests {
    func run(
        _ request: QualifyRequest, root: URL, vcpus: Int = 2, running: @escaping @Sendable () -> Bool = { true },
        posted: Monitor<[String]> = Monitor([])
    ) -> QualificationRun {
        let dir = root.appendingPathComponent("qualify/20261205-120000")
        let f = QualificationReport.figures(.empty)
        let status = QualificationStatus(
            run: "20261205-120000", guest: "guestrtlinux", state: .running, startedAt: 0, updatedAt: 0,
            plannedSeconds: request.durationSeconds, measuredSeconds: 0, load: "none", breakMicroseconds: request.breakMicroseconds,
            vcpus: Array(repeating: f, count: vcpus), total: f, comparison: nil, broke: nil,
            reportHTML: dir.appendingPathComponent("report.html").path, reportJSON: dir.appendingPathComponent("report.json").path, notes: [])
        let report = QualificationReport(
            status: status, histograms: Array(repeating: .empty, count: vcpus),
            context: .init(guestName: "RT-Linux", guestKernel: "", hostKernel: "h", accelerator: "tcg", placement: [], audit: []))
        return QualificationRun(
            request: request, dir: dir, exchange: root.appendingPathComponent("exchange"), report: report,
            host: .init(
                guestRunning: running, rtCores: [1], loadCores: [0], post: { k, w in posted.withLock { $0.append(k.rawValue + " " + w) } }, log: { _ in }))
    }

    /// busybox's line editor takes about a kilobyte; the longest folder name still fits.
    @Test func theLineTypedAtTheGuestsShellFits() {
        let root = URL(fileURLWithPath: "/tmp/none")
        let r = run(QualifyRequest(durationSeconds: 43_200, load: true, breakMicroseconds: 100), root: root)
        let line = r.guestScript(folder: String(repeating: "g", count: 64))
        #expect(line.utf8.count < 900, "\(line.utf8.count) bytes")
        #expect(line.contains("c=60;") && line.contains("-D $c -b 100 --tracemark") && line.contains("$i -lt 720"), "12 h in pieces of 60 s: \(line)")
        #expect(
            line.contains("o=1 c=49;") && line.contains("oslat -q -z -b 1024 -c 0-1 -D 10 >"), "with oslat: 10 s of it, a second to warm up, 49 s of cyclictest"
        )
        let short = run(QualifyRequest(durationSeconds: 60, load: false), root: root, vcpus: 1).guestScript(folder: "g")
        #expect(
            short.contains("c=10;") && short.contains("-D $c >") && short.contains("o=1 c=8;") && short.contains("-c 0 -D 1 >"), "60 s in six pieces: \(short)")
    }

    static let piece = """
        000003 000900\t000900
        000007 000100\t000099
        000040 000000\t000001
        # Min Latencies: 00003 00003
        # Avg Latencies: 00003 00003
        # Max Latencies: 00007 00040
        # Histogram Overflows: 00000 00000

        """

    /// Pieces come in; the figures add up; the last one ends the run as
    /// passed and makes it the baseline; a second run compares with it.
    @Test func piecesAddUpAndTheFirstPassIsTheBaseline() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-qual-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let pieces = root.appendingPathComponent("exchange/.hv-qualify")
        try FileManager.default.createDirectory(at: pieces, withIntermediateDirectories: true)
        try "6.1.0-57-rt-amd64\n".write(to: pieces.appendingPathComponent("kernel"), atomically: true, encoding: .utf8)
        let posted = Monitor<[String]>([])
        let r = run(QualifyRequest(durationSeconds: 10, load: false), root: root, posted: posted)
        #expect(r.chunkSeconds == 5 && r.chunks == 2)
        try r.begin()
        for i in 0..<2 { try Self.piece.write(to: pieces.appendingPathComponent("chunk-\(i)"), atomically: true, encoding: .utf8) }
        let deadline = Date().addingTimeInterval(15)
        while !r.isEnded && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        let s = r.status
        #expect(s.state == .passed && s.measuredSeconds == 10 && s.total.samples == 4000 && s.total.max == 40, "\(s)")
        #expect(s.vcpus.map(\.max) == [7, 40])
        let json = try JSONDecoder().decode(QualificationReport.self, from: Data(contentsOf: URL(fileURLWithPath: s.reportJSON)))
        #expect(json.status == s && json.context.guestKernel == "6.1.0-57-rt-amd64")
        #expect(try String(contentsOf: URL(fileURLWithPath: s.reportHTML), encoding: .utf8).contains("the guest's first qualification, kept as its baseline"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("qualify/baseline.json").path))
        #expect(posted.withLock { $0 }.contains { $0.hasPrefix("rt-qualified ") })
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("exchange/.hv-qualify-stop").path), "the guest's loop is told to end")
    }

    /// --load says where it runs and which KVM guests' vCPUs share those cores; RT guests and stopped guests are not named.
    @Test func theLoadNamesItsCoresAndTheKVMGuestsThere() {
        var ubuntu = GuestStatus(name: "Plant HMI", folder: "guestubuntu", kind: "kvm", os: "ubuntu", state: .running, vcpus: 2, memoryMiB: 2048)
        ubuntu.vcpuPlacement = [
            VCPUPlacement(thread: 1, cores: [0, 2], policy: "other", priority: 0),
            VCPUPlacement(thread: 2, cores: [0, 2, 3], policy: "other", priority: 0),
        ]
        let windows = GuestStatus(name: "Windows", folder: "guestwindows", kind: "kvm", os: "windows", state: .stopped, vcpus: 4, memoryMiB: 4096)
        let rtos = GuestStatus(name: "RTOS", folder: "guestrtos32", kind: "rtos", os: "rtos-32", state: .running, vcpus: 1, memoryMiB: 64)
        let words = GuestSupervisor.loadWords(cores: [0, 2], kvmGuests: [windows, rtos, ubuntu])
        #expect(
            words
                == "stress-ng on cores 0,2 (CPU, memory, I/O), the host's cores where the KVM guests' vCPUs run; running there: Plant HMI (2 vCPUs, on cores 0,2)",
            "\(words)")
        #expect(GuestSupervisor.loadWords(cores: [0], kvmGuests: [rtos]).hasSuffix("no KVM guest was running"))
    }

    static let oslatPiece = "        Core:\t 0 1\n    001 (us):\t 5000 4000\n    012 (us):\t 0 1\n     Maximum:\t 1 12 (us)\n"

    /// Where the image has oslat, each piece brings its figures too; a piece
    /// whose oslat output is nonsense ends oslat's figures, said, and
    /// cyclictest's go on.
    @Test func oslatPiecesAddUpAndNonsenseEndsOnlyThem() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-qual-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let pieces = root.appendingPathComponent("exchange/.hv-qualify")
        try FileManager.default.createDirectory(at: pieces, withIntermediateDirectories: true)
        let r = run(QualifyRequest(durationSeconds: 15, load: false), root: root)
        #expect(r.chunks == 3 && r.oslatSeconds == 1)
        try r.begin()
        func piece(_ i: Int, oslat: String) throws {
            try oslat.write(to: pieces.appendingPathComponent("oslat-\(i)"), atomically: true, encoding: .utf8)
            try Self.piece.write(to: pieces.appendingPathComponent("chunk-\(i)"), atomically: true, encoding: .utf8)
            let deadline = Date().addingTimeInterval(10)
            while r.status.measuredSeconds < (i + 1) * 5 && !r.isEnded && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        }
        try piece(0, oslat: Self.oslatPiece)
        try piece(1, oslat: Self.oslatPiece)
        var s = r.status
        #expect(s.osLatency?.measuredSeconds == 2 && s.osLatency?.total.samples == 18_002 && s.osLatency?.vcpus.map(\.max) == [1, 12], "\(s)")
        try piece(2, oslat: "        Core:\t 0 1 2\n     Maximum:\t 1 1 1 (us)\n")
        s = r.status
        #expect(s.state == .passed && s.total.samples == 6000, "cyclictest's figures go on: \(s)")
        #expect(s.osLatency?.measuredSeconds == 2 && s.notes.contains { $0.contains("oslat measured 3 vCPUs, the guest has 2") }, "\(s.notes)")
        let report = try JSONDecoder().decode(QualificationReport.self, from: Data(contentsOf: URL(fileURLWithPath: s.reportJSON)))
        #expect(report.oslatHistograms?.map(\.max) == [1, 12])
        #expect(try String(contentsOf: URL(fileURLWithPath: s.reportHTML), encoding: .utf8).contains("<table id=\"oslat\">"))
    }

    /// A stop keeps what was measured; a guest that writes nonsense ends the run as failed, said.
    @Test func aStopKeepsWhatWasMeasuredAndNonsenseFails() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-qual-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let pieces = root.appendingPathComponent("exchange/.hv-qualify")
        try FileManager.default.createDirectory(at: pieces, withIntermediateDirectories: true)
        let r = run(QualifyRequest(durationSeconds: 60, load: false), root: root)
        try r.begin()
        try Self.piece.write(to: pieces.appendingPathComponent("chunk-0"), atomically: true, encoding: .utf8)
        let deadline = Date().addingTimeInterval(10)
        while r.status.measuredSeconds == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        r.stop()
        while !r.isEnded && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        #expect(r.status.state == .stopped && r.status.measuredSeconds == 10 && r.status.total.samples == 2000, "\(r.status)")

        let root2 = root.appendingPathComponent("second")
        try FileManager.default.createDirectory(at: root2.appendingPathComponent("exchange/.hv-qualify"), withIntermediateDirectories: true)
        let bad = run(QualifyRequest(durationSeconds: 60, load: false), root: root2)
        try bad.begin()
        try "000001 1 2 3\n# Max Latencies: 1 2 3\n".write(to: root2.appendingPathComponent("exchange/.hv-qualify/chunk-0"), atomically: true, encoding: .utf8)
        let until = Date().addingTimeInterval(10)
        while !bad.isEnded && Date() < until { Thread.sleep(forTimeInterval: 0.2) }
        #expect(bad.status.state == .failed && bad.status.notes.contains { $0.contains("3 threads, the guest has 2 vCPUs") }, "\(bad.status.notes)")
    }
}
