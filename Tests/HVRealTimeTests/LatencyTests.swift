import Foundation
import HVCore
import HVEngine
import Testing

@testable import HVRealTime

@Suite struct LatencyTests {
    static let sample = """
        # /dev/cpu_dma_latency set to 0us
        000000 000000
        000001 000000
        000002 000090
        000003 000009
        000004 000000
        000005 000000
        # Total: 000000100
        # Min Latencies: 00002
        # Avg Latencies: 00002
        # Max Latencies: 00040
        # Histogram Overflows: 00001
        """

    @Test func parsesCyclictestHistogramsAndPercentiles() throws {
        let h = try LatencyHistogram.parse(Self.sample)
        #expect(h.counts == [0, 0, 90, 9, 0, 0])
        #expect(h.samples == 100 && h.overflows == 1)
        #expect(h.min == 2 && h.avg == 2 && h.max == 40)
        #expect(h.percentile(0.5) == 2)
        #expect(h.percentile(0.99) == 3)
        #expect(h.percentile(1.0) == 40, "the overflow lies beyond every bucket: the max")
        #expect(throws: HVError.self) { try LatencyHistogram.parse("sh: cyclictest: not found") }
    }

    /// The histogram comes from a file the guest wrote: impossible lines are refused, never a trap or a huge allocation.
    @Test func aHostileHistogramIsRefused() {
        for line in ["-5 1", "999999999999 1", "3 -1", "3 99999999999999999"] {
            #expect(throws: HVError.self, "\(line)") { try LatencyHistogram.parse(line + "\n# Max Latencies: 00003\n") }
        }
    }

    @Test func plotsAreWellFormed() throws {
        let h = try LatencyHistogram.parse(Self.sample)
        let series = [LatencyPlot.Series(label: "hv <placed>", histogram: h)]
        let svg = LatencyPlot.svg(series, title: "t & t")
        #expect(svg.hasPrefix("<svg") && svg.contains("hv &lt;placed&gt;: min 2 / avg 2 / p99 3 / max 40 µs") && svg.contains("t &amp; t"))
    }

    /// The axis reads in round values, and the legend, however long its
    /// labels, stays inside the picture (right-aligned, never past its edge).
    @Test func ticksAreRoundAndTheLegendStaysInside() throws {
        for (axis, expected) in [(7348, [0, 2000, 4000, 6000]), (40, [0, 10, 20, 30, 40]), (1224, [0, 500, 1000]), (3, [0, 1, 2, 3])] {
            #expect(LatencyPlot.ticks(upTo: axis) == expected, "\(axis): \(LatencyPlot.ticks(upTo: axis))")
        }
        let h = try LatencyHistogram.parse(Self.sample)
        let long = "Debian root under stress-ng, placed on core 1 with SCHED_FIFO 50"
        let svg = LatencyPlot.svg([LatencyPlot.Series(label: long, histogram: h), LatencyPlot.Series(label: "busybox", histogram: h)], title: "t")
        let swatches = svg.split(separator: "\n").filter { $0.hasPrefix("<rect x=") && $0.contains("width=\"12\"") }
        let x = swatches.compactMap { $0.split(separator: "\"").dropFirst().first.flatMap { Int($0) } }
        let labels = ["\(long): min 2 / avg 2 / p99 3 / max 40 µs", "busybox: min 2 / avg 2 / p99 3 / max 40 µs"]
        #expect(x.count == 2 && Set(x).count == 1 && x[0] >= LatencyPlot.left, "one column right of the axis: \(x)")
        #expect((x.first ?? 0) + 18 + LatencyPlot.legendWidth(labels) <= LatencyPlot.width - LatencyPlot.right, "the longest label ends inside")
        #expect(labels.allSatisfy { svg.contains(">\($0)</text>") })
    }

    /// The PNG is the SVG rendered by librsvg: the plot's size, and far more than
    /// bars (the title, axis labels and legend text are drawn too).
    @Test func thePNGIsTheSVGRendered() throws {
        let h = try LatencyHistogram.parse(Self.sample)
        let dir = URL(fileURLWithPath: "/tmp/hv-plot-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let svg = dir.appendingPathComponent("p.svg"), png = dir.appendingPathComponent("p.png")
        let withText = LatencyPlot.svg([LatencyPlot.Series(label: "hv placement", histogram: h)], title: "cyclictest in RT-Linux")
        try withText.write(to: svg, atomically: true, encoding: .utf8)
        try LatencyPlot.renderPNG(svg: svg, to: png)
        let data = [UInt8](try Data(contentsOf: png))
        #expect(Array(data.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = data[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = data[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == LatencyPlot.width && height == LatencyPlot.height, "\(width)×\(height)")
        // Without its text the same plot renders to a smaller file: the text is there.
        let bare = withText.replacingOccurrences(of: #"<text[^>]*>[^<]*</text>"#, with: "", options: .regularExpression)
        try bare.write(to: svg, atomically: true, encoding: .utf8)
        let barePNG = dir.appendingPathComponent("bare.png")
        try LatencyPlot.renderPNG(svg: svg, to: barePNG)
        #expect(try Data(contentsOf: barePNG).count + 1000 < data.count, "no text drawn")
    }
}
