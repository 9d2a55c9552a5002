import Foundation
import HVCore
import HVHost

/// Runs one shell command line in an RTOS guest through its console (hvd's
/// broker) and waits for a line it ends with. The console must be free (one holder at a time).
enum GuestShell {
    static func run(_ api: APIClient, guest ref: String, command: String, doneMarker: String, timeout: Double) throws -> String {
        let (conn, early) = try api.openConsole(ref, replay: "none", client: "\(NSUserName()) (hv rt bench)")
        defer { conn.close() }
        return try ConsolePrompt.run(
            conn, command: command, doneMarker: doneMarker, timeout: timeout,
            early: String(decoding: early, as: UTF8.self))
    }
}
