import Foundation
import HVCore
import HVHost

/// Histogram plots of latency runs, as SVG (with labels), rendered to PNG
/// for viewers without SVG. Log-scaled counts, one colour per run.
public enum LatencyPlot {
    public struct Series: Sendable {
        public var label: String
        public var histogram: LatencyHistogram
        public init(label: String, histogram: LatencyHistogram) {
            self.label = label
            self.histogram = histogram
        }
    }

    static let colors: [(UInt8, UInt8, UInt8)] = [(0x1f, 0x77, 0xb4), (0xd6, 0x27, 0x28), (0x2c, 0xa0, 0x2c)]
    static let width = 900, height = 420, left = 70, right = 20, top = 40, bottom = 50

    /// Buckets of the x axis: up to the largest latency seen, at most 300 bars.
    static func binning(_ series: [Series]) -> (maxUs: Int, binUs: Int, bins: [[Int]]) {
        // cyclictest prints every bucket up to -h; the axis ends after the last one used.
        let used = series.map { s in (s.histogram.counts.lastIndex { $0 > 0 } ?? 0) + 1 }
        let maxUs = Swift.max(1, used.max() ?? 1)
        let binUs = Swift.max(1, Int((Double(maxUs) / 300).rounded(.up)))
        let n = (maxUs + binUs - 1) / binUs
        let bins = series.map { s in
            var b = Array(repeating: 0, count: n)
            for (us, c) in s.histogram.counts.enumerated() { b[Swift.min(n - 1, us / binUs)] += c }
            return b
        }
        return (maxUs, binUs, bins)
    }

    static func y(_ count: Int, maxCount: Int) -> Double {
        guard count > 0 else { return 0 }
        return log10(Double(count) + 1) / log10(Double(maxCount) + 1)
    }

    public static func svg(_ series: [Series], title: String) -> String {
        let (_, binUs, bins) = binning(series)
        let maxCount = Swift.max(1, bins.flatMap { $0 }.max() ?? 1)
        let pw = Double(width - left - right), ph = Double(height - top - bottom)
        let barW = pw / Double(bins.first?.count ?? 1)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        for (k, b) in bins.enumerated() {
            let (r, g, bl) = colors[k % colors.count]
            for (i, c) in b.enumerated() where c > 0 {
                let h = y(c, maxCount: maxCount) * ph
                s += String(
                    format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" fill-opacity=\"0.6\"/>\n",
                    Double(left) + Double(i) * barW, Double(top) + ph - h, Swift.max(1, barW - 0.5), h, r, g, bl)
            }
        }
        s += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        let axisUs = bins.first.map { $0.count * binUs } ?? 1
        for us in ticks(upTo: axisUs) {
            let x = Double(left) + pw * Double(us) / Double(axisUs)
            s += String(format: "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, height - bottom + 18, us)
        }
        s += "<text x=\"\(left + Int(pw / 2))\" y=\"\(height - 8)\" text-anchor=\"middle\">latency (µs, \(binUs) µs per bar)</text>\n"
        s +=
            "<text x=\"16\" y=\"\(top + Int(ph / 2))\" transform=\"rotate(-90 16 \(top + Int(ph / 2)))\" text-anchor=\"middle\">samples (log scale, max \(maxCount))</text>\n"
        // The legend is a column inside the plot's right edge, placed by the
        // longest label's (generously) estimated width, so none runs off the picture.
        let labels = series.map { ser in
            let h = ser.histogram
            return "\(ser.label): min \(h.min) / avg \(h.avg) / p99 \(h.percentile(0.99)) / max \(h.max) µs"
        }
        let swatch = Swift.max(left + 8, width - right - 8 - legendWidth(labels) - 18)
        for (k, label) in labels.enumerated() {
            let (r, g, bl) = colors[k % colors.count]
            s += "<rect x=\"\(swatch)\" y=\"\(top + 6 + k * 18)\" width=\"12\" height=\"12\" fill=\"rgb(\(r),\(g),\(bl))\"/>\n"
            s += "<text x=\"\(swatch + 18)\" y=\"\(top + 16 + k * 18)\">\(escape(label))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Tick values on round numbers (1, 2 or 5 times a power of ten), from 0 to at most `axisUs`.
    static func ticks(upTo axisUs: Int) -> [Int] {
        let raw = Swift.max(1, Double(axisUs) / 5)
        let magnitude = pow(10, floor(log10(raw)))
        let step = Swift.max(1, Int([1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude))
        return Array(stride(from: 0, through: axisUs, by: step))
    }

    /// The widest label's width in pixels, estimated for 12 px sans-serif (about 0.6 em a character).
    static func legendWidth(_ labels: [String]) -> Int {
        Int((Double(labels.map(\.count).max() ?? 0) * 7.2).rounded(.up))
    }

    /// The PNG is the SVG rendered by librsvg (`rsvg-convert`, Debian's
    /// librsvg2-bin): the same title, axes, labels and legend, not a second
    /// drawing of our own.
    public static func renderPNG(svg: URL, to png: URL) throws {
        guard let rsvg = Executables.find("rsvg-convert") else {
            throw HVError(
                .notFound, "rsvg-convert is not installed, so only the SVG plot was written",
                hint: "apt-get install librsvg2-bin fonts-dejavu-core (hv setup does)")
        }
        let r = try Command.run([rsvg, "--format", "png", "--background-color", "white", "--output", png.path, svg.path], timeout: 60)
        guard r.status == 0, !r.timedOut else {
            throw HVError(.io, "rsvg-convert could not render \(svg.path): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
