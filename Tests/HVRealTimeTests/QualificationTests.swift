import Foundation
import HVAPI
import HVCore
import Testing

@testable import HVRealTime

/// What a qualification makes of cyclictest's pieces: histograms per vCPU,
/// added up; the figures; the baseline's verdict; the report.
@Suite struct QualificationTests {
    /// cyclictest -q -h 20000 -t -a with two vCPUs, as rt-tests 2.5 prints it (tabs between threads).
    static let twoThreads = """
        # Histogram
        000000 000000\t000000
        000003 000120\t000098
        000004 000005\t000001
        000009 000000\t000001
        # Total: 000000125 000000100
        # Min Latencies: 00003 00003
        # Avg Latencies: 00003 00004
        # Max Latencies: 00004 00009
        # Histogram Overflows: 00000 00000
        # Histogram Overflow at cycle number:
        # Thread 0:
        # Thread 1:

        """

    @Test func aPieceWithAThreadPerVCPUIsReadColumnByColumn() throws {
        let out = try CyclictestOutput.parse(Self.twoThreads, buckets: 20_000)
        #expect(out.threads.count == 2 && out.breakMicroseconds == nil)
        #expect(out.threads[0].samples == 125 && out.threads[1].samples == 100)
        #expect(out.threads[0].max == 4 && out.threads[1].max == 9 && out.threads[1].avg == 4)
        #expect(out.threads[1].percentile(0.99) == 4 && out.threads[1].percentile(0.9999) == 9)
        let broke = try CyclictestOutput.parse("000001 000010\n# Max Latencies: 00912\n# Break thread: 812\n# Break value: 00912\n", buckets: 20_000)
        #expect(broke.breakMicroseconds == 912)
    }

    @Test(arguments: [
        ("000001 000010\n020001 000001\n# Max Latencies: 00001\n", "a bucket past -h"),
        ("000001 " + Array(repeating: "1", count: 65).joined(separator: " ") + "\n# Max Latencies: 1\n", "more threads than vCPUs"),
        ("000001 1 2\n000002 1\n# Max Latencies: 1 2\n", "a line with fewer columns"),
        ("000001 -5\n# Max Latencies: 1\n", "a negative count"),
        ("000001 5\n", "no summary"),
        ("000001 5 6\n# Max Latencies: 00001\n", "a summary for fewer threads"),
    ])
    func whatAGuestCouldWriteIsRefused(text: String, what: String) {
        #expect(throws: HVError.self, "\(what)") { try CyclictestOutput.parse(text, buckets: 20_000) }
    }

    @Test func piecesAddUp() throws {
        let a = try CyclictestOutput.parse(Self.twoThreads, buckets: 20_000).threads[1]
        let b = LatencyHistogram(counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 300], overflows: 2, min: 12, avg: 12, max: 40_000)
        let sum = a.adding(b)
        #expect(sum.samples == 402 && sum.overflows == 2 && sum.min == 3 && sum.max == 40_000)
        #expect(sum.avg == 10, "weighted by samples: (4·100 + 12·300) / 400")
        #expect(sum.percentile(0.5) == 12 && sum.percentile(0.9999) == 40_000, "overflows count above every bucket")
        #expect(LatencyHistogram.empty.adding(a) == a && a.adding(.empty) == a)
    }

    func status(max: Int, p9999: Int, run: String = "20261205-120000") -> QualificationStatus {
        let f = LatencyFigures(samples: 1000, min: 2, avg: 3, max: max, p99: 5, p999: 6, p9999: p9999, overflows: 0)
        return QualificationStatus(
            run: run, guest: "guestrtlinux", state: .passed, startedAt: 0, updatedAt: 0, plannedSeconds: 60,
            measuredSeconds: 60, load: "none", breakMicroseconds: nil, vcpus: [f], total: f, comparison: nil,
            broke: nil, reportHTML: "/r.html", reportJSON: "/r.json", notes: [])
    }

    @Test func aRunMoreThanTheMarginWorseThanTheBaselineRegressed() {
        let base = status(max: 40, p9999: 20)
        let same = QualificationBaseline.compare(status(max: 48, p9999: 24).total, with: base)
        #expect(!same.regressed && same.summary.contains("within 25%"))
        let worse = QualificationBaseline.compare(status(max: 60, p9999: 21).total, with: base)
        #expect(worse.regressed && worse.summary.contains("max 60 µs against 40 µs"), "\(worse.summary)")
        let tail = QualificationBaseline.compare(status(max: 40, p9999: 90).total, with: base)
        #expect(tail.regressed && tail.summary.contains("p99.99 90 µs"))
        // 2 µs against 1 µs is twice, but no alarm: below the floor.
        #expect(!QualificationBaseline.compare(status(max: 2, p9999: 2).total, with: status(max: 1, p9999: 1)).regressed)
    }

    /// Self-contained and printable: no script, no link or image from outside; the guest's trace escaped.
    @Test func theReportFetchesNothingAndEscapesWhatTheGuestWrote() throws {
        var s = status(max: 9, p9999: 9)
        s.state = .broke
        s.breakMicroseconds = 5
        s.broke = QualificationBreak(
            microseconds: 9, hostSteal: ["1": 0], hostInterrupts: ["1": 12],
            trace: "<img src=x onerror=alert(1)><script>alert(2)</script> cyclictest-812 [001] hit latency threshold")
        let histograms = try CyclictestOutput.parse(Self.twoThreads, buckets: 20_000).threads
        var r = QualificationReport(
            status: s, histograms: histograms,
            context: .init(
                guestName: "RT <Linux>", guestKernel: "6.1.0-57-rt-amd64", hostKernel: "6.1.0",
                accelerator: "tcg", placement: ["vCPU 0 → core 1 (fifo 80)"], audit: ["[ ok ] x: y"]))
        r.refigure()
        #expect(r.status.vcpus.count == 2 && r.status.total.samples == 225 && r.status.total.max == 9)
        let html = QualificationHTML.render(r)
        // The SVG's namespace is a name, not a fetch; beyond it no address at all, and nothing that loads.
        let bare = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        #expect(!bare.contains("<script") && !bare.contains("http://") && !bare.contains("https://"))
        #expect(
            !bare.contains("<img") && !bare.contains("<iframe") && !bare.contains("href=") && !bare.contains("url(") && !bare.contains("@import")
                && !bare.contains("<link"))
        #expect(html.contains("&lt;img src=x") && html.contains("&lt;script&gt;") && html.contains("RT &lt;Linux&gt;"))
        #expect(html.contains("id=\"histogram\"") && html.contains("<svg") && html.contains("log scale"))
        #expect(html.contains("Stopped by a latency of 9 µs") && html.contains("id=\"trace\""))
        #expect(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"))
        // The JSON is the same figures, and reads back.
        let back = try JSONDecoder().decode(QualificationReport.self, from: APIJSON.encode(r))
        #expect(back == r)
    }
}
