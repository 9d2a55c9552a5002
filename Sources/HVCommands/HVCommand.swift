import ArgumentParser
import Foundation
import HVAPI
import HVCore
import HVHost
import HVSetup

struct HV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv",
        abstract: "hv: a real-time hypervisor host. RTOS guests on reserved cores beside general-purpose guests.",
        discussion: "The seed's commands (hv_open_example, hv_guest_start, ...) are links to this program; `hv install` creates them.",
        version: "hv \(BuildInfo.description)",
        subcommands: [
            Setup.self, Install.self, GuestGroup.self, VmfGroup.self, ExampleGroup.self, DaemonGroup.self,
            RTGroup.self, NetGroup.self, ShmGroup.self, EventGroup.self, ManagerGroup.self, BackupGroup.self,
            AutostartGroup.self, EventsCommand.self, ConfigReferenceCommand.self, SeedCommandNames.self, DevicesGroup.self,
        ])
}

/// For scripts/package.sh: the names the hv executable also answers to.
struct SeedCommandNames: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-commands", abstract: "Print the hv_* command names, one a line.", shouldDisplay: false)
    func run() throws { for name in seedCommands.keys.sorted() { print(name) } }
}

struct ConfigReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-reference", abstract: "Print every configuration key hv accepts (Markdown).")
    func run() throws { print(ConfigReference.markdown(), terminator: "") }
}

struct Setup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install the Debian packages hv needs and build the RT-Linux image (idempotent).")
    @Flag(help: "Build the RT-Linux image again even when it is current.") var rebuildImage = false
    @Flag(help: "Do not check or install Debian packages.") var skipPackages = false
    func run() throws {
        try HostSetup(layout: HostLayout.fromEnvironment(), log: { Out.say("setup: \($0)") })
            .run(rebuildImage: rebuildImage, installPackages: !skipPackages)
        Out.say("setup: done. Next: hv_open_example rt-linux")
    }
}

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put copies of hv and hvd, and every hv_* link, into PREFIX/bin.")
    @Option(help: "Installation prefix.") var prefix = "/usr/local"
    func run() throws {
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let bin = URL(fileURLWithPath: prefix).appendingPathComponent("bin")
        let fm = FileManager.default
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        let hvd = here.deletingLastPathComponent().appendingPathComponent("hvd")
        guard fm.isExecutableFile(atPath: hvd.path) else {
            throw HVError(.notFound, "\(hvd.path) is missing", hint: "build both products: swift build")
        }
        // Copies, so a later `swift build` does not change a running host under it.
        for (src, name) in [(here, "hv"), (hvd, "hvd")] {
            let dst = bin.appendingPathComponent(name)
            let tmp = bin.appendingPathComponent(".\(name).new")
            try? fm.removeItem(at: tmp)
            try fm.copyItem(at: src, to: tmp)
            _ = rename(tmp.path, dst.path)
        }
        for name in seedCommands.keys.sorted() {
            let link = bin.appendingPathComponent(name)
            try? fm.removeItem(at: link)
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "hv")
        }
        Out.say("installed hv, hvd and \(seedCommands.count) hv_* commands in \(bin.path)")
        // A running hvd is the old build: stop it (guests keep running); the next command starts the new one.
        let layout = HostLayout.fromEnvironment()
        if GuestLock.isHeld(layout.daemonLock) {
            try DaemonGroup.Stop().run()
        }
    }
}

struct GuestGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guest", abstract: "Guests by name or folder.",
        subcommands: [
            List.self, Status.self, Start.self, Stop.self, Restart.self, Resume.self, Console.self, Screenshot.self, Delete.self, SnapshotCommand.self,
            GuestBackupCommand.self, GuestRestoreCommand.self,
            SSH.self, Copy.self, Packages.self,
        ])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the guests.")
        @Flag(help: "A JSON array for scripts.") var json = false
        func run() throws { try GuestOperations.list(Context(), json: json) }
    }
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One guest's state as JSON.")
        @Argument(help: "Guest name or folder") var guest: String
        func run() throws {
            let g = try Context().api.get(.guestStatus(guest), as: GuestStatus.self)
            FileHandle.standardOutput.write(APIJSON.encode(g) + Data("\n".utf8))
        }
    }
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Boot a guest.")
        @Argument(help: "Guest name or folder") var guest: String
        @Flag(name: [.customLong("view"), .customLong("view", withSingleDash: true)], help: "Open its console at once.") var view = false
        @Flag(name: .customLong("no-wait"), help: "Return as soon as QEMU runs.") var noWait = false
        @Flag(
            name: .customLong("no-placement"),
            help: "An RTOS guest without hv's placement (no reserved core, no SCHED_FIFO, no locked memory): a baseline to measure against.")
        var noPlacement = false
        func run() throws { try GuestOperations.start(Context(), ref: guest, view: view, wait: !noWait, placement: !noPlacement) }
    }
    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a guest (graceful, then forced).")
        @Argument(help: "Guest name or folder") var guest: String
        @Flag(help: "Skip the graceful shutdown.") var force = false
        func run() throws { try GuestOperations.stop(Context(), ref: guest, force: force) }
    }
    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reboot an RTOS guest (same configuration).")
        @Argument(help: "Guest name or folder") var guest: String
        @Flag(name: [.customLong("view"), .customLong("view", withSingleDash: true)], help: "Open its console at once.") var view = false
        func run() throws { try GuestOperations.restart(Context(), ref: guest, view: view) }
    }
    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a guest run that QEMU paused at a failed write (its disk's file system was full); it resumes by itself once there is room.")
        @Argument(help: "Guest name or folder") var guest: String
        func run() throws {
            let r = try Context().api.post(.guestResume(guest), [String: String](), as: ActionResult.self)
            Out.say(r.message)
        }
    }
    struct Console: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a guest's console: the serial shell of an RTOS guest (Ctrl-] detaches), the desktop of a KVM guest.")
        @Argument(help: "Guest name or folder") var guest: String
        @Flag(help: "A KVM guest's text serial console instead of its desktop.") var serial = false
        func run() throws { try GuestOperations.console(Context(), ref: guest, serial: serial) }
    }
    struct Screenshot: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Save a KVM guest's screen as a PNG file.")
        @Argument(help: "Guest name or folder") var guest: String
        @Argument(help: "The PNG file to write") var file: String
        func run() throws { try GuestOperations.screenshot(Context(), ref: guest, to: file) }
    }
    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a stopped guest: says what goes (a disk in its folder, with its size), asks, and moves the folder to backup/.")
        @Argument(help: "Guest name or folder") var guest: String
        @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes.") var yes = false
        func run() throws { try GuestDeletion.delete(Context(), ref: guest, yes: yes) }
    }
}

struct VmfGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmf", abstract: "The VMF (hvd's loaded hypervisor configuration).",
        subcommands: [Start.self, Stop.self, IsLoaded.self, Status.self])
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: VmfStart.configuration.abstract)
        @Argument(help: "A hypervisor configuration file (default: HV_ROOT/config/hv.config)") var configFile: String?
        func run() throws { try GuestOperations.vmfStart(Context(), config: configFile) }
    }
    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: VmfStop.configuration.abstract)
        @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes to stopping running RTOS guests.") var yes = false
        func run() throws { try GuestOperations.vmfStop(Context(), yes: yes) }
    }
    struct IsLoaded: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "is-loaded", abstract: VmfIsLoaded.configuration.abstract)
        func run() throws { try VmfIsLoaded().run() }
    }
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The VMF's state as JSON.")
        func run() throws {
            let s = try Context().api.get(.vmfStatus, as: VMFStatus.self)
            FileHandle.standardOutput.write(APIJSON.encode(s) + Data("\n".utf8))
        }
    }
}

struct ExampleGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example", abstract: "The example projects.", subcommands: [List.self, Open.self, Sync.self])
    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: OpenExample.configuration.abstract)
        @Argument(help: "The example: \(ExampleCatalogue.names.joined(separator: ", "))") var name: String
        @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes to deleting existing guests.") var yes = false
        func run() throws { try ExampleOperations.open(Context(), name: name, yes: yes) }
    }
    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: SyncExample.configuration.abstract)
        @Argument(help: "The example opened with hv example open") var name: String
        func run() throws { try ExampleOperations.sync(Context(), name: name) }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the examples.")
        func run() throws { for e in ExampleCatalogue.all { Out.say("\(e.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(e.summary)") } }
    }
}

struct DaemonGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon", abstract: "hvd itself.", subcommands: [Stop.self])
    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop hvd (guests keep running; the next hv command starts it again).")
        func run() throws {
            let ctx = Context()
            if SystemdService.manages(ctx.layout) {
                let out = try Command.run(["systemctl", "stop", SystemdService.daemonUnit], timeout: 120)
                guard out.status == 0 else { throw HVError(.io, "systemctl stop \(SystemdService.daemonUnit) failed: \(out.stderr)") }
                Out.say("hvd stopped (systemctl stop \(SystemdService.daemonUnit)); guests keep running")
                return
            }
            guard FileManager.default.fileExists(atPath: ctx.layout.daemonSocket.path),
                (try? UnixSocket.connect(to: ctx.layout.daemonSocket.path, timeout: 0)) != nil
            else {
                Out.say("hvd is not running")
                return
            }
            _ = try ctx.api.request(.daemonShutdown)
            // Gone only when its lock is free: the next command must reach a new hvd.
            let deadline = Date().addingTimeInterval(10)
            while GuestLock.isHeld(ctx.layout.daemonLock) && Date() < deadline { usleep(20_000) }
            Out.say("hvd stopped; guests keep running")
        }
    }
}

public enum HVMain {
    public static func run() -> Never {
        let argv0 = URL(fileURLWithPath: CommandLine.arguments.first ?? "hv").lastPathComponent
        let type = command(named: argv0)
        do {
            var command = try type.parseAsRoot(Array(CommandLine.arguments.dropFirst()))
            try command.run()
            exit(0)
        } catch let e as HVError {
            FileHandle.standardError.write(Data("\(argv0): error: \(e.message)\n".utf8))
            if let hint = e.hint { FileHandle.standardError.write(Data("  → \(hint)\n".utf8)) }
            exit(exitStatus(for: e, of: type))
        } catch {
            type.exit(withError: error)
        }
    }

    /// The command a program name runs: a seed command (hv_guest_start, …) or `hv`.
    static func command(named argv0: String) -> ParsableCommand.Type { seedCommands[argv0] ?? HV.self }

    /// hv's exit statuses (docs/EXIT-CODES.md): an HVError's code decides;
    /// anything else is argument parsing's (64 for a usage error, 0 for --help).
    static func exitStatus(for error: Error, of type: ParsableCommand.Type) -> Int32 {
        if let e = error as? HVError { return e.code.exitStatus }
        return type.exitCode(for: error).rawValue
    }
}

struct ManagerGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manager", abstract: "The System Manager, hvd's web page on loopback.", subcommands: [URLCommand.self, TokenCommand.self])

    struct URLCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print an address that opens the System Manager (open it in a browser on this host, or through ssh -L).",
            discussion: "The address carries a login code, not the token: it works once, within two minutes, and a browser's history keeps only the spent code."
        )
        func run() throws {
            let login = try Context().api.post(.managerLoginCode, [String: String](), as: ManagerLoginCode.self)
            Out.say(login.url)
        }
    }

    struct TokenCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "token",
            abstract: "Print (or replace) the System Manager's token, or the read-only metrics token.",
            discussion: """
                The manager token (/hv/run/manager.token) is worth everything the API does; the metrics \
                token (/hv/run/metrics.token) reads GET /v1/metrics and nothing else: give Prometheus that one. \
                --rotate replaces it at once: the old one, its open pages, login codes and tickets are refused from then on.
                """)
        @Flag(help: "The read-only metrics token instead of the manager token.") var metrics = false
        @Flag(help: "Replace the token with a new one.") var rotate = false
        func run() throws {
            let ctx = Context()
            if rotate {
                let r = try ctx.api.post(.managerRotate, ManagerRotateRequest(credential: metrics ? "metrics" : "manager"), as: [String: String].self)
                Out.warn(r["message"] ?? "replaced")
            } else {
                // hvd makes the tokens when the System Manager starts.
                _ = try ctx.api.get(.manager, as: ManagerInfo.self)
            }
            let file = metrics ? ctx.layout.metricsToken : ctx.layout.managerToken
            guard let token = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
                throw HVError(.notFound, "\(file.path) is missing or unreadable", hint: "run as root")
            }
            Out.say(token)
        }
    }
}
