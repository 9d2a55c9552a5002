import Foundation
import HVCore
import Testing

@testable import HVRealTime

/// oslat's output as a qualification reads it: a column per vCPU, the
/// summary lines, and what a hostile guest could write instead.
@Suite struct OslatOutputTests {
    /// `oslat -q -z -b 1024 -c 0-1` as rt-tests 2.4 prints it (tabs after the colons).
    static let twoVCPUs = """
        oslat V 2.40
                Core:\t 0 1
        Counter Freq:\t 2298 2298 (Mhz)
            001 (us):\t 76270832 76000000
            002 (us):\t 183 90
            ...
            045 (us):\t 1 0
            ...
           1024 (us):\t 0 3 (including overflows)
             Minimum:\t 1 1 (us)
             Average:\t 1.000 1.000 (us)
             Maximum:\t 45 7403 (us)
             Max-Min:\t 44 7402 (us)
            Duration:\t 2.000 2.000 (sec)

        """

    @Test func aColumnPerVCPUAndTheExactMaximum() throws {
        let t = try OslatOutput.parse(Self.twoVCPUs, buckets: 1024)
        #expect(t.count == 2)
        #expect(t[0].samples == 76_271_016 && t[0].max == 45 && t[0].min == 1 && t[0].avg == 1)
        #expect(t[1].samples == 76_000_093 && t[1].max == 7403, "the last bucket holds the longer ones; the maximum is oslat's own")
        #expect(t[0].percentile(0.99) == 1 && t[0].counts[45] == 1)
        let one = try OslatOutput.parse("        Core:\t 1\n    003 (us):\t 10\n     Maximum:\t 3 (us)\n", buckets: 1024)
        #expect(one.count == 1 && one[0].samples == 10 && one[0].max == 3)
    }

    @Test(arguments: [
        ("Core:\t 0\n 1025 (us):\t 5\nMaximum:\t 1 (us)\n", "a bucket past -b"),
        ("Core:\t " + (0..<65).map(String.init).joined(separator: " ") + "\nMaximum:\t 1 (us)\n", "more vCPUs than a guest has"),
        ("Core:\t 0 1\n 001 (us):\t 5\nMaximum:\t 1 1 (us)\n", "a bucket with fewer columns"),
        ("Core:\t 0\n 001 (us):\t -5\nMaximum:\t 1 (us)\n", "a negative count"),
        ("Core:\t 0\n 001 (us):\t 5\n", "no maximum"),
        ("Core:\t 0 1\n 001 (us):\t 5 5\nMaximum:\t 1 (us)\n", "a maximum for fewer vCPUs"),
        ("001 (us):\t 5\nCore:\t 0\nMaximum:\t 1 (us)\n", "a bucket before the cores"),
        ("Core:\t 0\nCore:\t 0\nMaximum:\t 1 (us)\n", "the cores twice"),
        ("Core:\t 0\n 001 (us):\t 5\nMaximum:\t 99999999999 (us)\n", "a maximum past any real one"),
        ("Core:\t 0\n 001 (us):\t 1000000000001\nMaximum:\t 1 (us)\n", "a count past a day's loops"),
        ("oslat: failed to set CPU affinity\n", "an error instead of figures"),
    ])
    func whatAGuestCouldWriteIsRefused(text: String, what: String) {
        #expect(throws: HVError.self, "\(what)") { try OslatOutput.parse(text, buckets: 1024) }
    }
}
