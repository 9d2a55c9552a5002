// libFuzzer target: oslat's output as a guest leaves it for a qualification (hvd reads it as root).
import Foundation

@Sendable func fuzzOslat(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let threads = try? OslatOutput.parse(text, buckets: OslatOutput.buckets) else { return 0 }
    // Whatever was written: within the bounds asked for, and the sums stay sums.
    precondition(!threads.isEmpty && threads.count <= CyclictestOutput.maxThreads, "vCPU count")
    precondition(threads.allSatisfy { $0.counts.count <= OslatOutput.buckets + 1 && $0.max <= 1_000_000_000 }, "buckets within -b, a bounded maximum")
    let all = threads.reduce(LatencyHistogram.empty) { $0.adding($1) }
    precondition(all.counts.count <= OslatOutput.buckets + 1 && all.percentile(0.9999) >= 0, "merged histogram")
    return 0
}
