import Foundation

/// Histogram plots of latency runs, as SVG (with labels) and PNG (a raster
/// for viewers without SVG). Log-scaled counts, one colour per run.
public enum LatencyPlot {
    public struct Series: Sendable {
        public var label: String
        public var histogram: LatencyHistogram
        public init(label: String, histogram: LatencyHistogram) { self.label = label; self.histogram = histogram }
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
        let (maxUs, binUs, bins) = binning(series)
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
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" fill-opacity=\"0.6\"/>\n",
                            Double(left) + Double(i) * barW, Double(top) + ph - h, Swift.max(1, barW - 0.5), h, r, g, bl)
            }
        }
        s += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        for t in 0...5 {
            let us = maxUs * t / 5
            let x = Double(left) + pw * Double(us) / Double(bins.first.map { $0.count * binUs } ?? 1)
            s += String(format: "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, height - bottom + 18, us)
        }
        s += "<text x=\"\(left + Int(pw / 2))\" y=\"\(height - 8)\" text-anchor=\"middle\">latency (µs, \(binUs) µs per bar)</text>\n"
        s += "<text x=\"16\" y=\"\(top + Int(ph / 2))\" transform=\"rotate(-90 16 \(top + Int(ph / 2)))\" text-anchor=\"middle\">samples (log scale, max \(maxCount))</text>\n"
        for (k, ser) in series.enumerated() {
            let (r, g, bl) = colors[k % colors.count]
            let h = ser.histogram
            let label = "\(ser.label): min \(h.min) / avg \(h.avg) / p99 \(h.percentile(0.99)) / max \(h.max) µs"
            s += "<rect x=\"\(width - right - 360)\" y=\"\(top + 6 + k * 18)\" width=\"12\" height=\"12\" fill=\"rgb(\(r),\(g),\(bl))\"/>\n"
            s += "<text x=\"\(width - right - 342)\" y=\"\(top + 16 + k * 18)\">\(escape(label))</text>\n"
        }
        return s + "</svg>\n"
    }

    public static func png(_ series: [Series]) -> Data {
        let (_, _, bins) = binning(series)
        let maxCount = Swift.max(1, bins.flatMap { $0 }.max() ?? 1)
        var px = [UInt8](repeating: 255, count: width * height * 3)
        func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8), blend: Bool) {
            for yy in Swift.max(0, y0)..<Swift.min(height, y1) {
                for xx in Swift.max(0, x0)..<Swift.min(width, x1) {
                    let i = (yy * width + xx) * 3
                    if blend {
                        px[i] = UInt8((Int(px[i]) * 2 + Int(c.0) * 3) / 5)
                        px[i + 1] = UInt8((Int(px[i + 1]) * 2 + Int(c.1) * 3) / 5)
                        px[i + 2] = UInt8((Int(px[i + 2]) * 2 + Int(c.2) * 3) / 5)
                    } else { px[i] = c.0; px[i + 1] = c.1; px[i + 2] = c.2 }
                }
            }
        }
        let pw = width - left - right, ph = height - top - bottom
        let n = bins.first?.count ?? 1
        for (k, b) in bins.enumerated() {
            for (i, c) in b.enumerated() where c > 0 {
                let x0 = left + i * pw / n, x1 = Swift.max(x0 + 1, left + (i + 1) * pw / n)
                let h = Int(y(c, maxCount: maxCount) * Double(ph))
                fill(x0, top + ph - h, x1, top + ph, colors[k % colors.count], blend: true)
            }
        }
        fill(left, height - bottom, width - right, height - bottom + 1, (0, 0, 0), blend: false)
        fill(left, top, left + 1, height - bottom, (0, 0, 0), blend: false)
        for k in series.indices { fill(width - right - 360, top + 6 + k * 18, width - right - 348, top + 18 + k * 18, colors[k % colors.count], blend: false) }
        return PNGEncoder.encode(width: width, height: height, rgb: px)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// A minimal PNG writer: 8-bit RGB, deflated with fixed Huffman codes and
/// run matches one pixel back (plots are mostly runs of one colour).
public enum PNGEncoder {
    public static func encode(width: Int, height: Int, rgb: [UInt8]) -> Data {
        var raw = [UInt8]()
        raw.reserveCapacity((width * 3 + 1) * height)
        for row in 0..<height {
            raw.append(0)  // filter: none
            raw += rgb[(row * width * 3)..<((row + 1) * width * 3)]
        }
        let z: [UInt8] = [0x78, 0x01] + deflate(raw) + be32(adler32(raw))
        var ihdr = be32(UInt32(width)) + be32(UInt32(height))
        ihdr += [8, 2, 0, 0, 0]
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", [])
        return Data(out)
    }

    /// One final deflate block with the fixed Huffman codes (RFC 1951 3.2.6).
    static func deflate(_ data: [UInt8]) -> [UInt8] {
        var w = BitWriter()
        w.put(1, 1)  // final block
        w.put(1, 2)  // fixed Huffman
        var i = 0
        while i < data.count {
            // A run that repeats the bytes one pixel (3 bytes) back.
            var len = 0
            if i >= 3 {
                while len < 258 && i + len < data.count && data[i + len] == data[i + len - 3] { len += 1 }
            }
            if len >= 3 {
                w.length(len)
                w.code(2, bits: 5)  // distance 3: code 2, no extra bits
                i += len
            } else {
                w.literal(Int(data[i]))
                i += 1
            }
        }
        w.literal(256)  // end of block
        return w.bytes()
    }

    struct BitWriter {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var n: UInt32 = 0

        /// Value bits, least significant first (headers and extra bits).
        mutating func put(_ value: Int, _ count: Int) {
            acc |= UInt32(value) << n
            n += UInt32(count)
            while n >= 8 { out.append(UInt8(acc & 0xFF)); acc >>= 8; n -= 8 }
        }

        /// A Huffman code, most significant bit first.
        mutating func code(_ c: Int, bits: Int) {
            var r = 0
            for b in 0..<bits where c & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            put(r, bits)
        }

        mutating func literal(_ v: Int) {
            switch v {
            case 0...143: code(0x30 + v, bits: 8)
            case 144...255: code(0x190 + v - 144, bits: 9)
            case 256...279: code(v - 256, bits: 7)
            default: code(0xC0 + v - 280, bits: 8)
            }
        }

        static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                 67, 83, 99, 115, 131, 163, 195, 227, 258]
        static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]

        mutating func length(_ len: Int) {
            var k = Self.lengthBase.count - 1
            while Self.lengthBase[k] > len { k -= 1 }
            literal(257 + k)
            if Self.lengthExtra[k] > 0 { put(len - Self.lengthBase[k], Self.lengthExtra[k]) }
        }

        mutating func bytes() -> [UInt8] {
            if n > 0 { out.append(UInt8(acc & 0xFF)); acc = 0; n = 0 }
            return out
        }
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        return be32(UInt32(data.count)) + t + data + be32(crc32(t + data))
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFFFFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFFFFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return (b << 16) | a
    }
}
