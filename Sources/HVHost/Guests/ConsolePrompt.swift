import Foundation
import HVCore

/// Typing into an RTOS guest's serial console as a person would: wait for
/// its shell's prompt, then send a line. Shared by `hv rt bench` (through
/// hvd's console) and hvd itself (a qualification's start).
public enum ConsolePrompt {
    /// Presses Enter until the last line shows a root prompt ("…# ", busybox's and bash's).
    public static func awaitPrompt(_ conn: UnixSocket, _ out: inout String, until deadline: Date) throws {
        var nextEnter = Date()
        while Date() < deadline {
            if Date() >= nextEnter {
                try conn.write("\n")
                nextEnter = Date().addingTimeInterval(3)
            }
            if let data = try next(conn, timeout: 0.5) {
                out += String(decoding: data, as: UTF8.self)
                // Only the end matters: keep the text bounded whatever the guest prints.
                if out.utf8.count > 65_536 { out = String(out.suffix(16_384)) }
                let last = out.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
                if last.contains("# ") { return }
            }
        }
        throw HVError(.timeout, "the guest's console shows no shell prompt", hint: "look at its console: hv_guest_console")
    }

    /// What the console sent within `timeout` (nil: nothing yet). Its end is
    /// an error: waiting on a closed console would spin until the deadline.
    static func next(_ conn: UnixSocket, timeout: Double) throws -> Data? {
        let data: Data?
        do { data = try conn.read(timeout: timeout) } catch let e as HVError where e.code == .timeout { return nil }
        guard let data else { throw HVError(.io, "the guest's console closed", hint: "look at the guest: hv guest status; is it still running?") }
        return data
    }

    /// "hv-done-" typed as "hv-""done-" so that only the shell's output contains it whole.
    public static func marker(_ m: String, typed: Bool) -> String {
        guard typed, let dash = m.firstIndex(of: "-") else { return m }
        return String(m[...dash]) + "\"\"" + String(m[m.index(after: dash)...])
    }

    /// Types `command` at the prompt and reads until the shell prints `doneMarker` and a status.
    public static func run(_ conn: UnixSocket, command: String, doneMarker: String, timeout: Double, early: String = "") throws -> String {
        var out = early
        let deadline = Date().addingTimeInterval(timeout)
        // A shell at its prompt first: what is typed while a Debian root's console still logs
        // in is lost. Then the command; the marker is built by the shell (echo A""B), so the
        // echo of the typed line does not match it.
        try awaitPrompt(conn, &out, until: min(deadline, Date().addingTimeInterval(120)))
        // A command that ends in & (started in the background) takes no ";" after it.
        let separator = command.trimmingCharacters(in: .whitespaces).hasSuffix("&") ? " " : "; "
        try conn.write(command + separator + "echo \(marker(doneMarker, typed: true))$?\n")
        while Date() < deadline {
            guard let data = try next(conn, timeout: 1) else { continue }
            out += String(decoding: data, as: UTF8.self)
            if out.utf8.count > 4 << 20 { out = String(out.suffix(65_536)) }
            if let r = out.range(of: doneMarker), out[r.upperBound...].contains(where: \.isNumber) { return out }
        }
        throw HVError(
            .timeout, "the guest did not finish `\(command.prefix(200))` within \(Int(timeout)) s",
            hint: "look at its console: hv_guest_console")
    }
}
