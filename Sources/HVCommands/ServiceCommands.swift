import ArgumentParser
import Foundation
import HVAPI
import HVCore
import HVHost

/// Boot-time start of the VMF and guests, and the host's lifecycle events.
struct AutostartGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autostart",
        abstract: "What starts at boot: the VMF, then guests in order (hv-autostart.service runs `hv autostart run`).",
        subcommands: [List.self, Set.self, Clear.self, Run.self, StopAll.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the autostart plan.")
        @Flag(help: "JSON for scripts.") var json = false
        func run() throws {
            let plan = try Context().api.get(.autostart, as: AutostartPlan.self)
            if json {
                FileHandle.standardOutput.write(APIJSON.encode(plan) + Data("\n".utf8))
                return
            }
            Out.say(plan.enabled ? "autostart is on: at boot the VMF loads \(plan.hypervisorConfig)" : "autostart is off")
            for (i, g) in plan.guests.enumerated() {
                Out.say("  \(i + 1). \(g.folder)" + (g.delaySeconds > 0 ? " (after \(g.delaySeconds) s)" : ""))
            }
            if plan.enabled && plan.guests.isEmpty { Out.say("  no guests: only the VMF is loaded at boot") }
            for p in plan.problems ?? [] { Out.warn("  problem: \(p)") }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn autostart on with exactly these guests, in this order (replaces the list; running it twice changes nothing).")
        @Option(help: "The hypervisor configuration loaded at boot (default: HV_ROOT/config/hv.config).") var config: String?
        @Argument(help: "Guest folders in start order; FOLDER:SECONDS waits that long before it starts.") var guests: [String] = []
        func run() throws {
            let ctx = Context()
            let entries = try guests.map { word -> AutostartPlan.Entry in
                let parts = word.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { return .init(folder: word) }
                guard let d = Int(parts[1]) else {
                    throw HVError(.invalidArgument, "\(word): the delay after ':' must be whole seconds", hint: "e.g. guestubuntu:10")
                }
                return .init(folder: parts[0], delaySeconds: d)
            }
            let path = config.map { absolute($0) } ?? ctx.layout.hvConfig.path
            let plan = try ctx.api.put(.autostartSet, AutostartPlan(enabled: true, hypervisorConfig: path, guests: entries))
            Out.say(
                "autostart is on: at boot the VMF loads \(plan.hypervisorConfig)"
                    + (plan.guests.isEmpty ? "; no guests" : ", then " + plan.guests.map(\.folder).joined(separator: ", ")))
            if !SystemdService.unitInstalled {
                Out.say("  note: \(SystemdService.autostartUnit) is not installed here (install hv's Debian package): nothing runs it at boot")
            }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn autostart off and empty its guest list.")
        func run() throws {
            let ctx = Context()
            let current = try ctx.api.get(.autostart, as: AutostartPlan.self)
            _ = try ctx.api.put(.autostartSet, AutostartPlan(enabled: false, hypervisorConfig: current.hypervisorConfig, guests: []))
            Out.say("autostart is off; nothing starts at boot")
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load the VMF and start the listed guests in order, each once the one before is up (what boot does).")
        @Option(help: "Seconds each guest may take to come up.") var timeout: Double = 900
        func run() throws { try Autostart.run(Context(), timeout: timeout) }
    }

    struct StopAll: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop every running guest (the autostart list in reverse first, each gracefully), then unload the VMF (what shutdown does).")
        func run() throws { try Autostart.stopAll(Context()) }
    }
}

/// hv_set_autostart, the product's own: `-enable [hv.config]` turns autostart
/// on with the guests listed in config/usr_guest_autostart.config; `-disable` off.
struct SetAutostart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_set_autostart",
        abstract: "Start the VMF and the guests listed in config/usr_guest_autostart.config at boot (-enable), or not (-disable).")
    @Flag(name: .customLong("enable", withSingleDash: true), help: "Turn autostart on.") var enable = false
    @Flag(name: .customLong("disable", withSingleDash: true), help: "Turn autostart off.") var disable = false
    @Argument(help: "With -enable: the hypervisor configuration loaded at boot (default: HV_ROOT/config/hv.config).") var configFile: String?

    func validate() throws {
        guard enable != disable else { throw ValidationError("give exactly one of -enable or -disable") }
        if disable && configFile != nil { throw ValidationError("-disable takes no configuration file") }
    }

    func run() throws {
        let ctx = Context()
        let guests = try AutostartFiles.readList(ctx.layout)
        let path = configFile.map { absolute($0) } ?? ctx.layout.hvConfig.path
        let plan = try ctx.api.put(.autostartSet, AutostartPlan(enabled: enable, hypervisorConfig: path, guests: guests))
        if enable {
            Out.say(
                "autostart enabled: at boot the VMF loads \(plan.hypervisorConfig)"
                    + (guests.isEmpty
                        ? "; \(AutostartFiles.listFile(ctx.layout).path) lists no guests" : ", then " + guests.map(\.folder).joined(separator: ", ")))
        } else {
            Out.say("autostart disabled")
        }
    }
}

/// hv_resethv: config/ and the opened examples back to their initial (empty) state, after a backup.
struct ResetHV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_resethv",
        abstract: "Move config/ and projects/ (the opened examples) to backup/ and start both again empty (asks first).")
    @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes.") var yes = false
    func run() throws {
        let api = Context().api
        do {
            let r = try api.post(.resetHost, DeleteRequest(confirm: false), as: ResetResult.self)
            Out.say(r.message)
        } catch let e as HVError where e.code == .needsConfirmation {
            try Confirm.ask(e.message + ".", yes: yes)
            let r = try api.post(.resetHost, DeleteRequest(confirm: true), as: ResetResult.self)
            Out.say("hv_resethv: " + r.message)
        }
    }
}

/// hv_brdelall: the product's clean-up of guest bridges. hv removes its
/// bridges and TAPs when their last guest stops, so this is rarely needed.
struct BrDelAll: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_brdelall",
        abstract: "Remove the bridges and TAPs hv made for bridged KVM guests (never the host's own; refused while a guest uses one).")
    func run() throws {
        let r = try Context().api.post(.bridgesDelete, [String: String](), as: BridgeRemoval.self)
        Out.say(r.message)
    }
}

/// `hv events`: lifecycle events as they happen, like `virsh event --loop`.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Follow what happens to guests, the VMF and hvd (started, booted, crashed, restarting, ...) until interrupted.")
    @Flag(help: "One JSON object a line.") var json = false
    @Flag(help: "First the events hvd still holds (its last \(512)).") var replay = false
    @Option(help: "Stop after this many events (0: never).") var count = 0
    func run() throws { try EventFollower(api: Context().api, json: json, replay: replay, count: count).run() }
}

func absolute(_ path: String) -> String {
    URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path
}
