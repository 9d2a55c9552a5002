import Foundation
import HVCore

/// Runs one shell command line in an RTOS guest through its console and waits
/// for a line it ends with. The console must be free (one holder at a time).
enum GuestShell {
    static func run(_ api: APIClient, guest ref: String, command: String, doneMarker: String, timeout: Double) throws -> String {
        let (conn, early) = try api.openConsole(ref, replay: "none", client: "\(NSUserName()) (hv rt bench)")
        defer { conn.close() }
        // A fresh prompt first, then the command; the marker is built by the
        // shell (echo A""B), so the echo of the typed line does not match it.
        try conn.write("\n" + command + "; echo \(marker(doneMarker, typed: true))$?\n")
        var out = String(decoding: early, as: UTF8.self)
        let deadline = Date().addingTimeInterval(timeout)
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

    /// "hv-done-" typed as "hv-""done-" so that only the shell's output contains it whole.
    static func marker(_ m: String, typed: Bool) -> String {
        guard typed, let dash = m.firstIndex(of: "-") else { return m }
        return String(m[...dash]) + "\"\"" + String(m[m.index(after: dash)...])
    }
}
