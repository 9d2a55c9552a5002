import Foundation
import HVCore

/// Runs one shell command line in an RTOS guest through its console and waits
/// for a line it ends with. The console must be free (one holder at a time).
enum GuestShell {
    static func run(_ api: APIClient, guest ref: String, command: String, doneMarker: String, timeout: Double) throws -> String {
        let (conn, early) = try api.openConsole(ref, replay: "none", client: "\(NSUserName()) (hv rt bench)")
        defer { conn.close() }
        var out = String(decoding: early, as: UTF8.self)
        let deadline = Date().addingTimeInterval(timeout)
        // A shell at its prompt first: what is typed while a Debian root's console still logs
        // in is lost. Then the command; the marker is built by the shell (echo A""B), so the
        // echo of the typed line does not match it.
        try awaitPrompt(conn, &out, until: min(deadline, Date().addingTimeInterval(120)))
        try conn.write(command + "; echo \(marker(doneMarker, typed: true))$?\n")
        while Date() < deadline {
            guard let data = try? conn.read(timeout: 1) else {
                if Date() >= deadline { break }
                continue
            }
            out += String(decoding: data, as: UTF8.self)
            if let r = out.range(of: doneMarker), out[r.upperBound...].contains(where: \.isNumber) { return out }
        }
        throw HVError(.timeout, "the guest did not finish `\(command)` within \(Int(timeout)) s",
                      hint: "look at its console: hv_guest_console")
    }

    /// Presses Enter until the last line shows a root prompt ("…# ", busybox's and bash's).
    static func awaitPrompt(_ conn: UnixSocket, _ out: inout String, until deadline: Date) throws {
        var nextEnter = Date()
        while Date() < deadline {
            if Date() >= nextEnter {
                try conn.write("\n")
                nextEnter = Date().addingTimeInterval(3)
            }
            if let data = try? conn.read(timeout: 0.5) {
                out += String(decoding: data, as: UTF8.self)
                let last = out.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
                if last.contains("# ") { return }
            }
        }
        throw HVError(.timeout, "the guest's console shows no shell prompt", hint: "look at its console: hv_guest_console")
    }

    /// "hv-done-" typed as "hv-""done-" so that only the shell's output contains it whole.
    static func marker(_ m: String, typed: Bool) -> String {
        guard typed, let dash = m.firstIndex(of: "-") else { return m }
        return String(m[...dash]) + "\"\"" + String(m[m.index(after: dash)...])
    }
}
