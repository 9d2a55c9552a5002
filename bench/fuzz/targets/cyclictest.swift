// libFuzzer target: cyclictest's output as a guest leaves it for a qualification (hvd reads it as root).
import Foundation

@Sendable func fuzzCyclictest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let out = try? CyclictestOutput.parse(text, buckets: 20_000) else { return 0 }
    // Whatever was written: within the bounds asked for, and the sums stay sums.
    precondition(!out.threads.isEmpty && out.threads.count <= CyclictestOutput.maxThreads, "thread count")
    let all = out.threads.reduce(LatencyHistogram.empty) { $0.adding($1) }
    precondition(out.threads.allSatisfy { $0.counts.count <= 20_001 }, "buckets within -h")
    precondition(all.counts.count <= 20_001 && all.percentile(0.9999) >= 0, "merged histogram")
    return 0
}
