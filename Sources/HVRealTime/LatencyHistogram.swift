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

    /// Parses `cyclictest -q -h N` output (one thread).
    public static func parse(_ text: String) throws -> LatencyHistogram {
        var counts: [Int] = []
        var summary: [String: Int] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") {
                // "# Max Latencies: 00715"
                let parts = line.dropFirst().split(separator: ":", maxSplits: 1)
                if parts.count == 2, let n = Int(parts[1].split(separator: " ").first ?? "") {
                    summary[parts[0].trimmingCharacters(in: .whitespaces)] = n
                }
                continue
            }
            let cols = line.split(separator: " ", omittingEmptySubsequences: true)
            // The guest wrote this: a bucket far past any -h or a negative count would
            // cost the host's memory or trap, so such lines are refused.
            guard cols.count >= 2, let us = Int(cols[0]), let n = Int(cols[1]) else { continue }
            guard (0...Self.maxBuckets).contains(us), (0...Self.maxCount).contains(n) else {
                throw HVError(.io, "cyclictest's histogram has an impossible line: \(line.prefix(80))",
                              hint: "run hv rt bench again; the guest wrote the file it was read from")
            }
            if counts.count <= us { counts += Array(repeating: 0, count: us + 1 - counts.count) }
            counts[us] = n
        }
        guard !counts.isEmpty, let mx = summary["Max Latencies"] else {
            throw HVError(.io, "cyclictest printed no histogram: \(text.prefix(300))")
        }
        return LatencyHistogram(counts: counts, overflows: summary["Histogram Overflows"] ?? 0,
                                min: summary["Min Latencies"] ?? 0, avg: summary["Avg Latencies"] ?? 0, max: mx)
    }
}
