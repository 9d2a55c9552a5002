import Foundation
import HVCore

/// `POST /v1/guests/{ref}/qualify`: a real-time qualification of an RT-Linux
/// guest, run by hvd (it survives the terminal that asked for it).
public struct QualifyRequest: Sendable, Codable, Equatable {
    public var durationSeconds: Int
    /// stress-ng on the cores no RT guest has (CPU, memory, I/O), where the KVM guests' vCPUs run.
    public var load: Bool
    /// A latency above this stops the run, and the report carries the guest's kernel trace.
    public var breakMicroseconds: Int?
    public init(durationSeconds: Int, load: Bool = false, breakMicroseconds: Int? = nil) {
        self.durationSeconds = durationSeconds
        self.load = load
        self.breakMicroseconds = breakMicroseconds
    }
    public static let durations = 10...(7 * 24 * 3600)
    public static let breaks = 1...1_000_000
}

/// One vCPU's figures (or all of them together), in µs.
public struct LatencyFigures: Sendable, Codable, Equatable {
    public var samples: Int
    public var min: Int, avg: Int, max: Int
    public var p99: Int, p999: Int, p9999: Int
    public var overflows: Int
    public init(samples: Int, min: Int, avg: Int, max: Int, p99: Int, p999: Int, p9999: Int, overflows: Int) {
        self.samples = samples
        self.min = min
        self.avg = avg
        self.max = max
        self.p99 = p99
        self.p999 = p999
        self.p9999 = p9999
        self.overflows = overflows
    }
}

/// oslat in a qualification: a busy loop on every vCPU for a sixth of each
/// piece, before its cyclictest; how long the OS took the loop away.
public struct OSLatencyFigures: Sendable, Codable, Equatable {
    public var measuredSeconds: Int
    public var vcpus: [LatencyFigures]
    public var total: LatencyFigures
    public init(measuredSeconds: Int, vcpus: [LatencyFigures], total: LatencyFigures) {
        self.measuredSeconds = measuredSeconds
        self.vcpus = vcpus
        self.total = total
    }
}

/// A run against the guest's baseline (its first passing qualification).
public struct QualificationComparison: Sendable, Codable, Equatable {
    public var baselineRun: String
    public var baselineMax: Int, baselineP9999: Int
    /// How much worse counts as a regression, in percent (and at least `marginFloorMicroseconds`).
    public var marginPercent: Int
    public var regressed: Bool
    /// In words, for the report, the events and the terminal.
    public var summary: String
    public init(baselineRun: String, baselineMax: Int, baselineP9999: Int, marginPercent: Int, regressed: Bool, summary: String) {
        self.baselineRun = baselineRun
        self.baselineMax = baselineMax
        self.baselineP9999 = baselineP9999
        self.marginPercent = marginPercent
        self.regressed = regressed
        self.summary = summary
    }
}

/// What a latency above --break-us left: the value, and the host's RT cores at that moment.
public struct QualificationBreak: Sendable, Codable, Equatable {
    public var microseconds: Int
    /// Per RT core: host steal (ms) and interrupts during the measurement that broke.
    public var hostSteal: [String: Int]
    public var hostInterrupts: [String: Int]
    /// The tail of the guest's kernel trace (ftrace) up to the break, when it left one.
    public var trace: String?
    public init(microseconds: Int, hostSteal: [String: Int], hostInterrupts: [String: Int], trace: String?) {
        self.microseconds = microseconds
        self.hostSteal = hostSteal
        self.hostInterrupts = hostInterrupts
        self.trace = trace
    }
}

/// A qualification in a guest's status (the System Manager's live view):
/// the one under way, or the last this hvd ran.
public struct QualificationProgress: Sendable, Codable, Equatable {
    public var run: String
    public var state: QualificationStatus.State
    public var measuredSeconds: Int, plannedSeconds: Int
    public var maxMicroseconds: Int, p9999Microseconds: Int
    public var reportHTML: String
    public init(_ s: QualificationStatus) {
        run = s.run
        state = s.state
        measuredSeconds = s.measuredSeconds
        plannedSeconds = s.plannedSeconds
        maxMicroseconds = s.total.max
        p9999Microseconds = s.total.p9999
        reportHTML = s.reportHTML
    }
}

/// A qualification as `GET /v1/guests/{ref}/qualify` shows it: running
/// (live figures) or ended (with its report).
public struct QualificationStatus: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// passed: its whole time, no break; regressed: that, but worse than the baseline.
        case running, passed, regressed, stopped, broke, interrupted, failed
        public var ended: Bool { self != .running }
    }
    public var run: String
    public var guest: String
    public var state: State
    public var startedAt: Double
    public var updatedAt: Double
    public var plannedSeconds: Int
    public var measuredSeconds: Int
    public var load: String
    public var breakMicroseconds: Int?
    /// Per vCPU, then all together.
    public var vcpus: [LatencyFigures]
    public var total: LatencyFigures
    /// oslat's figures, when the guest's image has oslat (nil: it has not).
    public var osLatency: OSLatencyFigures?
    public var comparison: QualificationComparison?
    public var broke: QualificationBreak?
    /// The report (HTML, printable) and the same figures as JSON; written as the run goes.
    public var reportHTML: String
    public var reportJSON: String
    public var notes: [String]
    public init(
        run: String, guest: String, state: State, startedAt: Double, updatedAt: Double, plannedSeconds: Int, measuredSeconds: Int,
        load: String, breakMicroseconds: Int?, vcpus: [LatencyFigures], total: LatencyFigures, comparison: QualificationComparison?,
        broke: QualificationBreak?, reportHTML: String, reportJSON: String, notes: [String]
    ) {
        self.run = run
        self.guest = guest
        self.state = state
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.plannedSeconds = plannedSeconds
        self.measuredSeconds = measuredSeconds
        self.load = load
        self.breakMicroseconds = breakMicroseconds
        self.vcpus = vcpus
        self.total = total
        self.comparison = comparison
        self.broke = broke
        self.reportHTML = reportHTML
        self.reportJSON = reportJSON
        self.notes = notes
    }
}
