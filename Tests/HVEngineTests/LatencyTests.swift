import Foundation
import Testing
import HVCore
@testable import HVEngine

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

    @Test func plotsAreWellFormed() throws {
        let h = try LatencyHistogram.parse(Self.sample)
        let series = [LatencyPlot.Series(label: "hv <placed>", histogram: h)]
        let svg = LatencyPlot.svg(series, title: "t & t")
        #expect(svg.hasPrefix("<svg") && svg.contains("hv &lt;placed&gt;: min 2 / avg 2 / p99 3 / max 40 µs") && svg.contains("t &amp; t"))
        let png = [UInt8](LatencyPlot.png(series))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // Walk the chunks: lengths add up, every CRC is right, IHDR first and IEND last.
        var i = 8
        var types: [String] = []
        while i + 12 <= png.count {
            let len = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
            let body = Array(png[(i + 4)..<(i + 8 + len)])
            let crc = png[(i + 8 + len)..<(i + 12 + len)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(PNGEncoder.crc32(body) == crc)
            types.append(String(decoding: body.prefix(4), as: UTF8.self))
            if types.count == 1 {
                #expect(Array(body[4..<12]) == [0, 0, 0x03, 0x84, 0, 0, 0x01, 0xA4], "900 × 420")
            }
            i += 12 + len
        }
        #expect(i == png.count)
        #expect(types == ["IHDR", "IDAT", "IEND"])
    }
}

@Suite struct PNGTests {
    /// The deflate stream is checked by an independent inflater (Python's zlib).
    @Test func deflatedImagesInflateToTheirPixels() throws {
        let w = 37, h = 11
        var rgb = [UInt8]()
        for y in 0..<h { for x in 0..<w { rgb += x < 20 ? [255, 255, 255] : [UInt8(x * 7 % 256), UInt8(y * 13), 90] } }
        let png = PNGEncoder.encode(width: w, height: h, rgb: rgb)
        let file = URL(fileURLWithPath: "/tmp/hv-png-\(UUID().uuidString.prefix(8)).png")
        defer { try? FileManager.default.removeItem(at: file) }
        try png.write(to: file)
        let script = """
            import struct, sys, zlib
            d = open(sys.argv[1], 'rb').read(); i = 8; idat = b''
            while i < len(d):
                n = struct.unpack('>I', d[i:i+4])[0]
                if d[i+4:i+8] == b'IDAT': idat += d[i+8:i+8+n]
                i += 12 + n
            raw = zlib.decompress(idat)
            print(''.join('%02x' % b for b in raw))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let hex = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        var expected = ""
        for y in 0..<h {
            expected += "00"
            for b in rgb[(y * w * 3)..<((y + 1) * w * 3)] { expected += String(format: "%02x", b) }
        }
        #expect(hex == expected)
        #expect(png.count < rgb.count, "runs compress")
    }
}
