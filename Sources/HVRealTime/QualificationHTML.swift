import Foundation
import HVAPI

/// The qualification's report as one self-contained HTML file: the verdict,
/// the figures per vCPU, the histogram (inline SVG, log scale), the
/// comparison with the baseline, what the run ran on, and the trace of a
/// break. Printable; nothing is fetched from anywhere (no script, no link,
/// no font or image from outside), and every text from the guest or the
/// host is escaped.
public enum QualificationHTML {
    public static func render(_ r: QualificationReport) -> String {
        let s = r.status
        let e = LatencyPlot.escape
        let verdict: (String, String) =
            switch s.state {
            case .running: ("running", "Running: the figures so far")
            case .passed: ("pass", "Passed" + (s.comparison.map { ": " + $0.summary } ?? ": the guest's first qualification, kept as its baseline"))
            case .regressed: ("fail", "Regression: " + (s.comparison?.summary ?? ""))
            case .stopped: ("note", "Stopped early: the figures of what was measured")
            case .broke: ("fail", "Stopped by a latency of \(s.broke?.microseconds ?? 0) µs, above the \(s.breakMicroseconds ?? 0) µs break")
            case .interrupted: ("note", "Interrupted (hvd ended during the run): the figures of what was measured")
            case .failed: ("fail", "Failed: " + s.notes.joined(separator: "; "))
            }
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
            <title>Real-time qualification of \(e(r.context.guestName)), \(e(s.run))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; max-width: 980px; }
            h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
            table { border-collapse: collapse; } td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
            th { background: #eee; } td.l, th.l { text-align: left; }
            .verdict { padding: 8px 12px; border-radius: 4px; font-weight: bold; }
            .pass { background: #dff0d8; } .fail { background: #f2dede; } .note, .running { background: #fcf8e3; }
            pre { background: #f6f6f6; padding: 8px; font-size: 11px; white-space: pre-wrap; }
            @media print { body { margin: 0; } pre { max-height: none; } }
            </style></head><body>
            <h1>Real-time qualification of \(e(r.context.guestName))</h1>
            <p id="verdict" class="verdict \(verdict.0)">\(e(verdict.1))</p>
            <p>Run <b>\(e(s.run))</b>, started \(e(Self.time(s.startedAt))) UTC; measured \(s.measuredSeconds) s of \(s.plannedSeconds) s.
            Load: \(e(s.load)).\(s.breakMicroseconds.map { " Break above \($0) µs." } ?? "")</p>
            <h2>Latency (cyclictest, µs)</h2>
            <table id="figures"><tr><th class="l">vCPU</th><th>samples</th><th>min</th><th>avg</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th><th>overflows</th></tr>

            """
        for (i, f) in s.vcpus.enumerated() { h += row("vCPU \(i)", f) }
        h += row("all", s.total, bold: true) + "</table>\n"
        if let c = s.comparison {
            h +=
                "<h2>Against the baseline</h2>\n<p id=\"comparison\">\(e(c.summary)). A regression is more than \(c.marginPercent)% (and \(QualificationBaseline.floorMicroseconds) µs) worse in max or p99.99.</p>\n"
        }
        let series = r.histograms.enumerated().map { LatencyPlot.Series(label: "vCPU \($0.offset)", histogram: $0.element) }
        if series.contains(where: { $0.histogram.samples > 0 }) {
            h += "<h2>Histogram</h2>\n<div id=\"histogram\">\n" + LatencyPlot.svg(series, title: "cyclictest in \(r.context.guestName), log scale") + "</div>\n"
        }
        if let o = s.osLatency {
            h += "<h2>OS latency (oslat, µs)</h2>\n<p>A busy loop on every vCPU for \(o.measuredSeconds) s in all (the start of each piece): "
            h += "how long the guest's OS took a polling thread away. A sample is one turn of the loop; the maximum is exact, "
            h += "the last bucket (\(OslatOutput.buckets) µs) holds everything longer.</p>\n"
            h +=
                "<table id=\"oslat\"><tr><th class=\"l\">vCPU</th><th>samples</th><th>min</th><th>avg</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th><th>overflows</th></tr>\n"
            for (i, f) in o.vcpus.enumerated() { h += row("vCPU \(i)", f) }
            h += row("all", o.total, bold: true) + "</table>\n"
            let series = (r.oslatHistograms ?? []).enumerated().map { LatencyPlot.Series(label: "vCPU \($0.offset)", histogram: $0.element) }
            if series.contains(where: { $0.histogram.samples > 0 }) {
                h += "<div id=\"oslat-histogram\">\n" + LatencyPlot.svg(series, title: "oslat in \(r.context.guestName), log scale") + "</div>\n"
            }
        }
        if let b = s.broke {
            h += "<h2>The break</h2>\n<p>A latency of \(b.microseconds) µs stopped the run. The host's RT cores during that measurement: "
            h += e(
                b.hostSteal.keys.sorted().map { "core \($0): steal \(b.hostSteal[$0] ?? 0) ms, \(b.hostInterrupts[$0] ?? 0) interrupts" }.joined(
                    separator: "; "))
            h += ".</p>\n"
            h +=
                b.trace.map { "<p>The guest's kernel trace up to the break (ftrace, its last lines):</p>\n<pre id=\"trace\">\(e($0))</pre>\n" }
                ?? "<p>The guest left no kernel trace.</p>\n"
        }
        h += "<h2>What it ran on</h2>\n<table id=\"context\">\n"
        for (k, v) in [
            ("guest kernel", r.context.guestKernel), ("host kernel", r.context.hostKernel),
            ("accelerator", r.context.accelerator), ("placement", r.context.placement.joined(separator: "; ")),
        ] {
            h += "<tr><th class=\"l\">\(k)</th><td class=\"l\">\(e(v))</td></tr>\n"
        }
        h += "</table>\n<h2>The host's audit (hv rt check)</h2>\n<pre id=\"audit\">\(e(r.context.audit.joined(separator: "\n")))</pre>\n"
        if !s.notes.isEmpty { h += "<h2>Notes</h2>\n<ul>" + s.notes.map { "<li>\(e($0))</li>" }.joined() + "</ul>\n" }
        return h + "<p>Written by hv, \(e(Self.time(s.updatedAt))) UTC. The same figures are in \(e(s.reportJSON)).</p>\n</body></html>\n"
    }

    static func row(_ label: String, _ f: LatencyFigures, bold: Bool = false) -> String {
        let cells = [f.samples, f.min, f.avg, f.p99, f.p999, f.p9999, f.max, f.overflows].map { "<td>\(bold ? "<b>\($0)</b>" : "\($0)")</td>" }
        return "<tr><td class=\"l\">\(label)</td>" + cells.joined() + "</tr>\n"
    }

    static func time(_ t: Double) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}
