import ArgumentParser
import Foundation
import HVCore
import Testing

@testable import HVCommands

/// The seed's commands as a user types them: the names that run them, the
/// arguments they take and refuse, their exit statuses and their --help
/// (snapshots in Help/; HV_UPDATE_GOLDEN=1 rewrites them after a deliberate change).
struct SeedCommandTests {
    static let help = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Help")

    /// Every name the manual gives runs its command; any other name is `hv`.
    @Test func eachSeedNameRunsItsCommand() {
        let names = [
            "hv_open_example", "hv_sync_example", "hv_vmf_start", "hv_vmf_is_loaded", "hv_vmf_stop", "hv_guest_start",
            "hv_guest_restart", "hv_guest_console", "hv_guest_stop", "hv_set_autostart", "hv_resethv", "hv_brdelall",
        ]
        #expect(Set(seedCommands.keys) == Set(names))
        for name in names {
            #expect(HVMain.command(named: name).configuration.commandName == name, "\(name)")
        }
        #expect(ObjectIdentifier(HVMain.command(named: "hv")) == ObjectIdentifier(HV.self))
        #expect(ObjectIdentifier(HVMain.command(named: "hv_guest_strat")) == ObjectIdentifier(HV.self), "a near miss is not a seed command")
    }

    @Test func argumentsAreParsedAndBadOnesRefusedWithAUsageStatus() throws {
        let stop = try #require(try HVMain.command(named: "hv_guest_stop").parseAsRoot(["--force"]) as? GuestStop)
        #expect(stop.force)
        let open = try #require(try HVMain.command(named: "hv_open_example").parseAsRoot(["rt-linux", "--yes"]) as? OpenExample)
        #expect(open.name == "rt-linux" && open.yes)
        let start = try #require(try HV.parseAsRoot(["guest", "start", "Plant HMI", "--no-placement"]) as? GuestGroup.Start)
        #expect(start.guest == "Plant HMI" && start.noPlacement, "a name with a space is one argument")

        for (name, args) in [
            ("hv_guest_stop", ["--forse"]), ("hv_open_example", []), ("hv_vmf_is_loaded", ["extra"]),
            ("hv", ["guest", "start"]), ("hv", ["backup", "prune", "--keep", "-1"]),
        ] {
            let type = HVMain.command(named: name)
            let error = #expect(throws: (any Error).self, "\(name) \(args)") { _ = try type.parseAsRoot(args) }
            if let error { #expect(HVMain.exitStatus(for: error, of: type) == ExitCode.validationFailure.rawValue, "\(name) \(args)") }
        }
    }

    /// hv's own errors keep their documented statuses (docs/EXIT-CODES.md); --help runs no command.
    @Test func errorsExitWithTheirDocumentedStatus() throws {
        #expect(HVMain.exitStatus(for: HVError(.notFound, "x"), of: HV.self) == 4)
        #expect(HVMain.exitStatus(for: HVError(.needsConfirmation, "x"), of: HV.self) == 7)
        #expect(HVMain.exitStatus(for: HVError(.conflict, "x"), of: GuestStart.self) == 5)
        // --help runs ArgumentParser's help, which prints and ends with status 0, never the command.
        let parsed = try HVMain.command(named: "hv_guest_stop").parseAsRoot(["--help"])
        #expect(!(parsed is GuestStop) && "\(Swift.type(of: parsed))" == "HelpCommand", "\(parsed)")
        let docs = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../docs/EXIT-CODES.md").standardizedFileURL, encoding: .utf8)
        for code in HVError.Code.allCases {
            #expect(docs.contains("| \(code.exitStatus) | \(code.rawValue) |"), "exit status \(code.exitStatus) (\(code.rawValue)) is documented")
        }
    }

    /// What --help says for each seed command, as a snapshot: a change to it is seen in review.
    @Test(arguments: [
        "hv_open_example", "hv_sync_example", "hv_vmf_start", "hv_vmf_is_loaded", "hv_vmf_stop", "hv_guest_start",
        "hv_guest_restart", "hv_guest_console", "hv_guest_stop", "hv_set_autostart", "hv_resethv", "hv_brdelall",
    ])
    func helpSnapshot(of name: String) throws {
        let text = HVMain.command(named: name).helpMessage(columns: 100) + "\n"
        let file = Self.help.appendingPathComponent(name + ".txt")
        if ProcessInfo.processInfo.environment["HV_UPDATE_GOLDEN"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(text == expected, "\(name) --help differs; if the change is deliberate, rerun with HV_UPDATE_GOLDEN=1")
    }
}
