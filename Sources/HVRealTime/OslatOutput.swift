import Foundation
import HVCore

/// oslat's `-q -z -b N` output: a busy loop on every vCPU, its histogram in
/// 1 µs buckets (a column per vCPU; the last bucket holds the overflows too)
/// and summary lines ("Maximum: 51 47 (us)"). What it measures is how long
/// the OS took a polling thread away (what a polling EtherCAT master or
/// DPDK loop sees), where cyclictest measures a timer's wake-up. The guest
/// wrote it, so every number is bounded before it costs the host memory.
public enum OslatOutput {
    /// The -b hv asks for: 1 µs buckets; the last holds everything longer (the maximum is exact).
    public static let buckets = 1024

    /// `buckets`: the -b asked for; a bucket past it is refused.
    public static func parse(_ text: String, buckets: Int) throws -> [LatencyHistogram] {
        var counts: [[Int]] = []
        var threads: Int?
        var summary: [String: [Double]] = [:]
        func impossible(_ line: Substring) -> HVError {
            HVError(
                .io, "oslat's output has an impossible line: \(line.prefix(80))",
                hint: "measure again; the guest wrote the file it was read from")
        }
        for line in text.split(separator: "\n") {
            // "    001 (us):\t 76270832 12" or "     Maximum:\t 51 47 (us)"; anything else is oslat talking.
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let values = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).prefix(CyclictestOutput.maxThreads + 1)
                .prefix { $0.first.map { $0.isNumber } ?? false }
            if key == "Core" {
                guard (1...CyclictestOutput.maxThreads).contains(values.count), values.allSatisfy({ Int($0) != nil }),
                    threads == nil
                else { throw impossible(line) }
                threads = values.count
                counts = Array(repeating: [], count: values.count)
            } else if key.hasSuffix("(us)") {
                guard let n = threads, let us = Int(key.dropLast(4).trimmingCharacters(in: .whitespaces)),
                    (0...buckets).contains(us), values.count == n
                else { throw impossible(line) }
                let column = values.map { Int($0) }
                guard column.allSatisfy({ $0.map { (0...LatencyHistogram.maxCount).contains($0) } ?? false }) else { throw impossible(line) }
                for (t, c) in column.enumerated() {
                    if counts[t].count <= us { counts[t] += Array(repeating: 0, count: us + 1 - counts[t].count) }
                    counts[t][us] = c ?? 0
                }
            } else if ["Minimum", "Average", "Maximum"].contains(key) {
                let numbers = values.compactMap { Double($0) }
                guard numbers.count == values.count, numbers.allSatisfy({ (0...1e9).contains($0) }) else { throw impossible(line) }
                summary[key] = numbers
            }
        }
        guard let n = threads, let maxes = summary["Maximum"], maxes.count == n else {
            throw HVError(.io, "oslat printed no histogram: \(text.prefix(300))")
        }
        func column(_ key: String, _ t: Int) -> Int { summary[key].flatMap { t < $0.count ? Int($0[t].rounded()) : nil } ?? 0 }
        return counts.enumerated().map { t, c in
            LatencyHistogram(counts: c, overflows: 0, min: column("Minimum", t), avg: column("Average", t), max: column("Maximum", t))
        }
    }
}
