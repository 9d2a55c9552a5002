import Foundation
import HVCore

/// cyclictest's `-q -h N` output with a thread per vCPU (`-t -a`): a column
/// of counts per thread after each bucket, then summary lines ("# Max
/// Latencies: 00012 00015"), and with `-b` the latency that stopped it
/// ("# Break value: 00123"). The guest wrote it, so every number is bounded
/// before it costs the host memory.
public struct CyclictestOutput: Sendable, Equatable {
    public var threads: [LatencyHistogram]
    /// `-b`: the latency that stopped the run (nil: it ran its time).
    public var breakMicroseconds: Int?

    /// More threads than an RT guest has vCPUs is no output of ours.
    public static let maxThreads = 64

    /// `buckets`: the -h asked for; a line past it is refused.
    public static func parse(_ text: String, buckets: Int) throws -> CyclictestOutput {
        var counts: [[Int]] = []
        var summary: [String: [Int]] = [:]
        func impossible(_ line: Substring) -> HVError {
            HVError(
                .io, "cyclictest's output has an impossible line: \(line.prefix(80))",
                hint: "measure again; the guest wrote the file it was read from")
        }
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { continue }
            if first.hasPrefix("#") {
                // "# Max Latencies: 00715 00716"
                let parts = line.dropFirst().split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let values = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).prefix(maxThreads).compactMap { Int($0) }
                summary[parts[0].trimmingCharacters(in: .whitespaces)] = values
                continue
            }
            guard words.count >= 2, let us = Int(words[0]) else { continue }
            let columns = words.dropFirst().map { Int($0) }
            guard (0...buckets).contains(us), columns.count <= maxThreads,
                columns.allSatisfy({ $0.map { (0...LatencyHistogram.maxCount).contains($0) } ?? false })
            else { throw impossible(line) }
            if counts.isEmpty { counts = Array(repeating: [], count: columns.count) }
            guard columns.count == counts.count else { throw impossible(line) }
            for (t, n) in columns.enumerated() {
                if counts[t].count <= us { counts[t] += Array(repeating: 0, count: us + 1 - counts[t].count) }
                counts[t][us] = n ?? 0
            }
        }
        guard !counts.isEmpty, let maxes = summary["Max Latencies"], maxes.count == counts.count else {
            throw HVError(.io, "cyclictest printed no histogram: \(text.prefix(300))")
        }
        func column(_ key: String, _ t: Int) -> Int { summary[key].flatMap { t < $0.count ? $0[t] : nil } ?? 0 }
        let threads = counts.enumerated().map { t, c in
            LatencyHistogram(
                counts: c, overflows: column("Histogram Overflows", t), min: column("Min Latencies", t),
                avg: column("Avg Latencies", t), max: maxes[t])
        }
        return CyclictestOutput(threads: threads, breakMicroseconds: summary["Break value"]?.first)
    }
}

extension LatencyHistogram {
    /// An empty histogram (no samples yet).
    public static let empty = LatencyHistogram(counts: [], overflows: 0, min: 0, avg: 0, max: 0)

    /// Two measurements of the same thing as one: counts added, the extremes
    /// kept, the average weighted by the samples.
    public func adding(_ other: LatencyHistogram) -> LatencyHistogram {
        guard other.samples > 0 else { return self }
        guard samples > 0 else { return other }
        var sum = counts
        if sum.count < other.counts.count { sum += Array(repeating: 0, count: other.counts.count - sum.count) }
        for (us, n) in other.counts.enumerated() { sum[us] += n }
        let avg = (Double(avg) * Double(samples) + Double(other.avg) * Double(other.samples)) / Double(samples + other.samples)
        return LatencyHistogram(
            counts: sum, overflows: overflows + other.overflows, min: Swift.min(min, other.min),
            avg: Int(avg.rounded()), max: Swift.max(max, other.max))
    }
}
