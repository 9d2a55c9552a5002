import Foundation
import HVCore
import HVHost

/// cyclictest's result: its histogram (-h, 1 µs buckets) and summary lines.
public struct LatencyHistogram: Sendable, Equatable, Codable {
    /// counts[i]: samples of i µs.
    public var counts: [Int]
    public var overflows: Int
    public var min: Int
    public var avg: Int
    public var max: Int

    public var samples: Int { counts.reduce(0, +) + overflows }

    /// The latency that `fraction` of the samples do not exceed (overflows count as above every bucket).
    public func percentile(_ fraction: Double) -> Int {
        let target = Int((Double(samples) * fraction).rounded(.up))
        var seen = 0
        for (us, n) in counts.enumerated() {
            seen += n
            if seen >= target { return us }
        }
        return max
    }

    /// hv rt bench asks for -h 20000; a count past a day at 1 µs is no count.
    static let maxBuckets = 1_000_000
    static let maxCount = 1_000_000_000_000

    /// Parses `cyclictest -q -h N` output of one thread (`hv rt bench`).
    public static func parse(_ text: String) throws -> LatencyHistogram {
        let out = try CyclictestOutput.parse(text, buckets: maxBuckets)
        guard out.threads.count == 1, let only = out.threads.first else {
            throw HVError(.io, "cyclictest measured \(out.threads.count) threads where hv asked for one")
        }
        return only
    }
}
