import Foundation
import HVHost
import Testing

@testable import HVCore

/// The boot list: its file format, the checks hvd makes before writing it, and the crash policy's limit.
@Suite struct AutostartTests {
    func scratch() throws -> HostLayout {
        let layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hv-autostart-\(UUID().uuidString.prefix(6))"))
        try layout.ensureDirectories()
        for g in ["guestrtlinux", "guestubuntu"] {
            try FileManager.default.createDirectory(at: layout.guest(g).url, withIntermediateDirectories: true)
            try "[Guest]\n".write(to: layout.guest(g).guestConfig, atomically: true, encoding: .utf8)
        }
        return layout
    }

    @Test func theListFileTakesNamesPathsDelaysAndComments() throws {
        let layout = try scratch()
        defer { try? FileManager.default.removeItem(at: layout.root) }
        let text = "# boot order\nguestrtlinux\n\n\(layout.guestsDir.path)/guestubuntu 15   # the HMI after the controller\n"
        let entries = try AutostartFiles.parseList(text, file: "list", layout: layout)
        #expect(entries == [.init(folder: "guestrtlinux"), .init(folder: "guestubuntu", delaySeconds: 15)])
    }

    @Test func aBadLineIsNamedWithItsNumber() throws {
        let layout = try scratch()
        defer { try? FileManager.default.removeItem(at: layout.root) }
        for (text, words) in [
            ("guestrtlinux\nguestubuntu soon\n", "line 2"), ("a b c\n", "line 1"),
            ("guestrtlinux 99999\n", "line 1"), ("/etc/passwd\n", "not a folder in"),
        ] {
            do {
                _ = try AutostartFiles.parseList(text, file: "usr_guest_autostart.config", layout: layout)
                Issue.record("accepted: \(text)")
            } catch let e as HVError {
                #expect(e.message.contains(words) && e.code == .invalidConfig, "\(e.message)")
            }
        }
    }

    @Test func restartsStopAtTheBurstWithinTheInterval() {
        let policy = CrashPolicy(action: .restart, burst: 2, intervalSeconds: 60)
        let now = Date()
        #expect(policy.allowsRestart(now: now, after: []))
        #expect(policy.allowsRestart(now: now, after: [now.addingTimeInterval(-10)]))
        #expect(!policy.allowsRestart(now: now, after: [now.addingTimeInterval(-10), now.addingTimeInterval(-5)]))
        // Old restarts age out of the interval.
        #expect(policy.allowsRestart(now: now, after: [now.addingTimeInterval(-120), now.addingTimeInterval(-5)]))
        #expect(!CrashPolicy(action: .stay, burst: 3, intervalSeconds: 600).allowsRestart(now: now, after: []))
        #expect(!CrashPolicy.never.allowsRestart(now: now, after: []))
    }
}
