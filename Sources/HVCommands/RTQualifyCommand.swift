import ArgumentParser
import Foundation
import HVAPI
import HVCore

/// `hv rt qualify GUEST`: hvd runs cyclictest on every vCPU of the RT-Linux
/// guest for the whole duration (hours), writes a report that an acceptance
/// test can sign, and compares with the guest's baseline. This terminal only
/// follows: the run goes on when it closes.
struct RTQualify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qualify",
        abstract: "Qualify an RT-Linux guest: cyclictest on every vCPU for hours, a report, a guard against regressions.",
        discussion: """
            Where the guest's image has oslat, each piece of the run begins with a few seconds of it \
            (a busy loop on every vCPU: how long the OS takes a polling thread away), reported beside cyclictest's figures. \
            hvd runs the qualification, so it goes on when this terminal closes (follow it again with --status). \
            The report is one HTML file (printable, nothing fetched from outside) with the same figures as JSON, \
            in the guest's folder under qualify/. The guest's first passing qualification is its baseline; a later \
            one more than 25% worse in max or p99.99 is a regression (an event, a metric, exit status 1). \
            --load runs stress-ng on the cores no RT guest has (CPU, memory, I/O), where the KVM guests' vCPUs run. \
            --break-us N stops at the first latency above N µs and keeps the guest's kernel trace up to it.
            """)
    @Argument(help: "The running RT-Linux guest (name or folder)") var guest: String
    @Option(help: "How long: seconds, or with s, m, h or d (12h).") var duration: String = "12h"
    @Flag(help: "Load the cores no RT guest has (the KVM guests' cores) with stress-ng while measuring.") var load = false
    @Option(name: .customLong("break-us"), help: "Stop at the first latency above this many µs, with a trace.") var breakUs: Int?
    @Flag(help: "Show the run under way, or the last one, and return.") var status = false
    @Flag(help: "End the run under way early; what was measured is kept.") var stop = false
    @Flag(help: "Start it and return at once.") var detach = false

    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let last = t.last else { return nil }
        let (number, unit) = units[last].map { (t.dropLast(), $0) } ?? (Substring(t), 1)
        guard let n = Int(number), n > 0, n <= Int.max / unit else { return nil }
        return n * unit
    }

    func validate() throws {
        guard !(status && stop) else { throw ValidationError("--status and --stop: give one") }
        guard let s = Self.seconds(duration), QualifyRequest.durations.contains(s) else {
            throw ValidationError("--duration takes 10 s to 7 d, such as 600, 90m, 12h")
        }
        if let b = breakUs, !QualifyRequest.breaks.contains(b) { throw ValidationError("--break-us takes 1 to 1000000") }
    }

    func run() throws {
        let api = Context().api
        if status { return Self.show(try api.get(.qualifyStatus(guest), as: QualificationStatus.self), final: true) }
        if stop {
            let s = try api.post(.qualifyStop(guest), [String: String](), as: QualificationStatus.self)
            Self.show(s, final: true)
            return
        }
        let request = QualifyRequest(durationSeconds: Self.seconds(duration) ?? 0, load: load, breakMicroseconds: breakUs)
        var s = try api.post(.qualifyStart(guest), request, as: QualificationStatus.self, timeout: 240)
        Out.say("qualifying \(s.guest) for \(s.plannedSeconds) s (run \(s.run)); hvd runs it, so it goes on if this terminal closes")
        Out.say("report: \(s.reportHTML)")
        if detach { return Out.say("follow it: hv rt qualify \(guest) --status") }
        let live = isatty(STDOUT_FILENO) == 1
        var lastLine = ""
        while !s.state.ended {
            Thread.sleep(forTimeInterval: 2)
            s = try api.get(.qualifyStatus(guest), as: QualificationStatus.self)
            let line = Self.progress(s)
            if live {
                FileHandle.standardOutput.write(Data(("\r" + line + "\u{1b}[K").utf8))
            } else if line != lastLine {
                Out.say(line)
            }
            lastLine = line
        }
        if live { Out.say("") }
        Self.show(s, final: true)
        if [.regressed, .broke, .failed].contains(s.state) { throw ExitCode(1) }
    }

    static func progress(_ s: QualificationStatus) -> String {
        "\(s.measuredSeconds) of \(s.plannedSeconds) s: \(s.total.samples) samples, max \(s.total.max) µs, p99.99 \(s.total.p9999) µs"
    }

    static func show(_ s: QualificationStatus, final: Bool) {
        Out.say("\(s.guest), run \(s.run): \(s.state.rawValue); " + progress(s))
        var rows = [["vCPU", "samples", "min", "avg", "p99", "p99.9", "p99.99", "max µs"]]
        func row(_ label: String, _ f: LatencyFigures) -> [String] {
            [label] + [f.samples, f.min, f.avg, f.p99, f.p999, f.p9999, f.max].map(String.init)
        }
        for (i, f) in s.vcpus.enumerated() { rows.append(row(String(i), f)) }
        rows.append(row("all", s.total))
        Out.say(Out.table(rows))
        if let o = s.osLatency {
            Out.say(
                "oslat (a busy loop on every vCPU, \(o.measuredSeconds) s): max " + o.vcpus.map { "\($0.max)" }.joined(separator: ", ")
                    + " µs per vCPU, p99.99 \(o.total.p9999) µs")
        }
        if let c = s.comparison { Out.say(c.summary) }
        if let b = s.broke { Out.say("broke at \(b.microseconds) µs" + (b.trace == nil ? "" : "; the guest's trace is in the report")) }
        for n in s.notes { Out.say("note: \(n)") }
        Out.say("report: \(s.reportHTML) (figures: \(s.reportJSON))")
    }
}
