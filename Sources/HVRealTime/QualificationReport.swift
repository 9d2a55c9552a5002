import Foundation
import HVAPI
import HVCore

/// A qualification's whole record: its status (the figures), each vCPU's
/// histogram and what the run happened on. Written by hvd as JSON beside
/// the HTML report (`QualificationHTML`), and read back by the next hvd
/// when one died during a run.
public struct QualificationReport: Sendable, Codable, Equatable {
    public struct Context: Sendable, Codable, Equatable {
        public var guestName: String
        public var guestKernel: String
        public var hostKernel: String
        public var accelerator: String
        /// "vCPU 0 → core 1", or why there is no placement.
        public var placement: [String]
        /// `hv rt check`'s findings on the host, as lines.
        public var audit: [String]
        public init(guestName: String, guestKernel: String, hostKernel: String, accelerator: String, placement: [String], audit: [String]) {
            self.guestName = guestName
            self.guestKernel = guestKernel
            self.hostKernel = hostKernel
            self.accelerator = accelerator
            self.placement = placement
            self.audit = audit
        }
    }
    public var status: QualificationStatus
    public var histograms: [LatencyHistogram]
    /// oslat's histograms per vCPU, when the guest's image has oslat.
    public var oslatHistograms: [LatencyHistogram]?
    public var context: Context
    public init(status: QualificationStatus, histograms: [LatencyHistogram], oslatHistograms: [LatencyHistogram]? = nil, context: Context) {
        self.status = status
        self.histograms = histograms
        self.oslatHistograms = oslatHistograms
        self.context = context
    }

    /// The figures of one histogram.
    public static func figures(_ h: LatencyHistogram) -> LatencyFigures {
        LatencyFigures(
            samples: h.samples, min: h.min, avg: h.avg, max: h.max, p99: h.percentile(0.99),
            p999: h.percentile(0.999), p9999: h.percentile(0.9999), overflows: h.overflows)
    }

    /// Per vCPU, then all together.
    static func figures(_ hs: [LatencyHistogram]) -> (vcpus: [LatencyFigures], total: LatencyFigures) {
        (hs.map(figures), figures(hs.reduce(LatencyHistogram.empty) { $0.adding($1) }))
    }

    /// The figures again from the histograms (per vCPU and together).
    public mutating func refigure() {
        (status.vcpus, status.total) = Self.figures(histograms)
    }

    /// One piece of oslat (a histogram per vCPU, `seconds` long) added.
    public mutating func addOslat(_ threads: [LatencyHistogram], seconds: Int) {
        let sum = zip(oslatHistograms ?? Array(repeating: .empty, count: threads.count), threads).map { $0.adding($1) }
        oslatHistograms = sum
        let (vcpus, total) = Self.figures(sum)
        status.osLatency = OSLatencyFigures(measuredSeconds: (status.osLatency?.measuredSeconds ?? 0) + seconds, vcpus: vcpus, total: total)
    }
}

/// The guard against regressions: a guest's first passing qualification is
/// its baseline; a later run is a regression when its maximum or its
/// p99.99 is more than `marginPercent` worse (and at least
/// `floorMicroseconds`, so that 3 µs against 2 µs is no alarm).
public enum QualificationBaseline {
    public static let marginPercent = 25
    public static let floorMicroseconds = 5

    public static func compare(_ run: LatencyFigures, with baseline: QualificationStatus) -> QualificationComparison {
        func worse(_ now: Int, _ then: Int) -> Bool {
            now - then >= floorMicroseconds && Double(now) > Double(then) * (1 + Double(marginPercent) / 100)
        }
        let b = baseline.total
        var words: [String] = []
        if worse(run.max, b.max) { words.append("max \(run.max) µs against \(b.max) µs") }
        if worse(run.p9999, b.p9999) { words.append("p99.99 \(run.p9999) µs against \(b.p9999) µs") }
        let summary =
            words.isEmpty
            ? "within \(marginPercent)% of the baseline \(baseline.run) (max \(run.max) µs against \(b.max) µs, p99.99 \(run.p9999) µs against \(b.p9999) µs)"
            : "regressed against the baseline \(baseline.run): " + words.joined(separator: ", ") + " (more than \(marginPercent)% worse)"
        return QualificationComparison(
            baselineRun: baseline.run, baselineMax: b.max, baselineP9999: b.p9999,
            marginPercent: marginPercent, regressed: !words.isEmpty, summary: summary)
    }
}
