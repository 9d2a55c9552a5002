import Foundation
import Testing
import HVCore
import HVAPI
import HVRealTime
@testable import HVDaemon

/// The qualification's moving parts without a guest: the line typed at the
/// guest's shell, and a run fed pieces as a guest leaves them.
@Suite struct QualificationRunTests {
    func run(_ request: QualifyRequest, root: URL, vcpus: Int = 2, running: @escaping @Sendable () -> Bool = { true },
             posted: Monitor<[String]> = Monitor([])) -> QualificationRun {
        let dir = root.appendingPathComponent("qualify/20261205-120000")
        let f = QualificationReport.figures(.empty)
        let status = QualificationStatus(run: "20261205-120000", guest: "guestrtlinux", state: .running, startedAt: 0, updatedAt: 0,
                                         plannedSeconds: request.durationSeconds, measuredSeconds: 0, load: "none", breakMicroseconds: request.breakMicroseconds,
                                         vcpus: Array(repeating: f, count: vcpus), total: f, comparison: nil, broke: nil,
                                         reportHTML: dir.appendingPathComponent("report.html").path, reportJSON: dir.appendingPathComponent("report.json").path, notes: [])
        let report = QualificationReport(status: status, histograms: Array(repeating: .empty, count: vcpus),
                                         context: .init(guestName: "RT-Linux", guestKernel: "", hostKernel: "h", accelerator: "tcg", placement: [], audit: []))
        return QualificationRun(request: request, dir: dir, exchange: root.appendingPathComponent("exchange"), report: report,
                                host: .init(guestRunning: running, rtCores: [1], post: { k, w in posted.withLock { $0.append(k.rawValue + " " + w) } }, log: { _ in }))
    }

    /// busybox's line editor takes about a kilobyte; the longest folder name still fits.
    @Test func theLineTypedAtTheGuestsShellFits() {
        let root = URL(fileURLWithPath: "/tmp/none")
        let r = run(QualifyRequest(durationSeconds: 43_200, load: true, breakMicroseconds: 100), root: root)
        let line = r.guestScript(folder: String(repeating: "g", count: 64))
        #expect(line.utf8.count < 900, "\(line.utf8.count) bytes")
        #expect(line.contains("-D 60 -b 100 --tracemark") && line.contains("$i -lt 720"), "12 h in pieces of 60 s: \(line)")
        #expect(run(QualifyRequest(durationSeconds: 60, load: false), root: root).guestScript(folder: "g").contains("-D 10 >"), "60 s in six pieces")
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
