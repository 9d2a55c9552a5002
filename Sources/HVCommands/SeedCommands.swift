import ArgumentParser
import Foundation
import HVAPI
import HVCore

// The seed's commands, each a name that the `hv` executable answers to
// (hv install links them). They act on the guest of the current folder.

struct OpenExample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_open_example",
        abstract: "Load an example's System Manager project; existing guests are deleted (after you confirm, into backup/).",
        discussion: "Examples: \(ExampleCatalogue.names.joined(separator: ", ")).")
    @Argument(help: "The example: \(ExampleCatalogue.names.joined(separator: ", "))") var name: String
    @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes to deleting existing guests.") var yes = false
    func run() throws { try ExampleOperations.open(Context(), name: name, yes: yes) }
}

struct SyncExample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_sync_example",
        abstract: "Write the opened example project to the host: config/hv.config and the guest folders.")
    @Argument(help: "The example opened with hv_open_example") var name: String
    func run() throws { try ExampleOperations.sync(Context(), name: name) }
}

struct VmfStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_vmf_start",
        abstract: "Load the VMF with a hypervisor configuration (default: the one the current guest folder belongs to).")
    @Argument(help: "A hypervisor configuration file (default: HV_ROOT/config/hv.config)") var configFile: String?
    func run() throws { try GuestOperations.vmfStart(Context(), config: configFile) }
}

struct VmfIsLoaded: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_vmf_is_loaded", abstract: "Say whether the VMF is loaded (exit 0 when loaded, 1 when not).")
    func run() throws {
        let s = try Context().api.get(.vmfStatus, as: VMFStatus.self)
        Out.say(s.loaded ? "VMF is loaded (\(s.config ?? "?"))" : "VMF is not loaded")
        if !s.loaded { throw ExitCode(1) }
    }
}

struct VmfStop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_vmf_stop", abstract: "Stop all RTOS guests and unload the VMF (asks while guests run).")
    @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes to stopping running RTOS guests.") var yes = false
    func run() throws { try GuestOperations.vmfStop(Context(), yes: yes) }
}

struct GuestStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_guest_start", abstract: "Boot the guest of the current folder.")
    @Flag(name: [.customLong("view", withSingleDash: true), .customLong("view")], help: "Open its console at once.") var view = false
    @Flag(name: .customLong("no-wait"), help: "Return as soon as QEMU runs, without waiting for the boot.") var noWait = false
    func run() throws {
        let ctx = Context()
        try GuestOperations.start(ctx, ref: try ctx.currentGuest(), view: view, wait: !noWait)
    }
}

struct GuestRestart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_guest_restart",
        abstract: "Reboot the RTOS guest of the current folder without reloading the configuration.")
    @Flag(name: [.customLong("view", withSingleDash: true), .customLong("view")], help: "Open its console at once.") var view = false
    func run() throws {
        let ctx = Context()
        try GuestOperations.restart(ctx, ref: try ctx.currentGuest(), view: view)
    }
}

struct GuestConsole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_guest_console",
        abstract: "Open the console of the guest of the current folder (Ctrl-] detaches).")
    func run() throws {
        let ctx = Context()
        try GuestOperations.console(ctx, ref: try ctx.currentGuest())
    }
}

struct GuestStop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv_guest_stop",
        abstract: "Stop the guest of the current folder: gracefully, forced after its timeout; runs vm_shutdown_hook.sh.")
    @Flag(name: .customLong("force"), help: "Skip the graceful shutdown.") var force = false
    func run() throws {
        let ctx = Context()
        try GuestOperations.stop(ctx, ref: try ctx.currentGuest(), force: force)
    }
}

/// Seed command names → their commands.
let seedCommands: [String: ParsableCommand.Type] = [
    "hv_open_example": OpenExample.self, "hv_sync_example": SyncExample.self,
    "hv_vmf_start": VmfStart.self, "hv_vmf_is_loaded": VmfIsLoaded.self, "hv_vmf_stop": VmfStop.self,
    "hv_guest_start": GuestStart.self, "hv_guest_restart": GuestRestart.self,
    "hv_guest_console": GuestConsole.self, "hv_guest_stop": GuestStop.self,
    "hv_set_autostart": SetAutostart.self, "hv_resethv": ResetHV.self, "hv_brdelall": BrDelAll.self,
]
