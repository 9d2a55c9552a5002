import Foundation
import HVAPI
import HVCore

/// The guest and VMF operations behind both the seed's hv_* commands and
/// `hv guest ...` / `hv vmf ...`.
enum GuestOperations {
    static func start(_ ctx: Context, ref: String, view: Bool, wait: Bool, placement: Bool = true) throws {
        let api = ctx.api
        let placed: Bool? = placement ? nil : false
        if view {
            let r = try api.post(.guestStart(ref), StartRequest(wait: false, placement: placed), as: ActionResult.self)
            Out.say(r.message)
            if r.guest.display != nil { return try DesktopViewer.open(r.guest) }
            try ConsoleClient.run(api: api, ref: ref, title: "\(r.guest.name) (\(r.guest.folder))", replay: "boot")
            return
        }
        let r = try api.post(.guestStart(ref), StartRequest(wait: wait, placement: placed), as: ActionResult.self)
        Out.say(r.message)
        for n in r.guest.notes { Out.say("  note: \(n)") }
        if let d = r.guest.display {
            Out.say("  desktop: VNC on \(d.vncSocket)\(d.webSocketURL.map { ", WebSocket \($0)" } ?? "") (hv_guest_console shows how to open it)")
        }
        if !r.guest.cores.isEmpty {
            Out.say("  vCPU on core \(r.guest.cores.map(String.init).joined(separator: ","))\(r.guest.schedFIFO ? ", SCHED_FIFO" : "")")
        }
    }

    static func restart(_ ctx: Context, ref: String, view: Bool) throws {
        let api = ctx.api
        let r = try api.post(.guestRestart(ref), StartRequest(wait: !view), as: ActionResult.self)
        Out.say(r.message)
        if view { try ConsoleClient.run(api: api, ref: ref, title: "\(r.guest.name) (\(r.guest.folder))", replay: "boot") }
    }

    static func stop(_ ctx: Context, ref: String, force: Bool) throws {
        // A guest that ignores the power button (an installer, say) takes its whole
        // TimeoutSeconds: on a terminal, say what is being waited for while it lasts.
        let waiting = WaitingNote()
        if !force && isatty(STDERR_FILENO) == 1 {
            let guest = (try? ctx.api.get(.guestStatus(ref), as: GuestStatus.self))?.name ?? ref
            Thread.detachNewThread {
                var seconds = 0
                while waiting.sleep(5) {
                    seconds += 5
                    Out.warn(
                        "waiting for \(guest) to power off after the ACPI power button (\(seconds) s); it is forced off after its TimeoutSeconds, or now with hv_guest_stop --force"
                    )
                }
            }
        }
        defer { waiting.finish() }
        let r = try ctx.api.post(.guestStop(ref), StopRequest(force: force), as: ActionResult.self)
        Out.say(r.message)
    }

    static func console(_ ctx: Context, ref: String, serial: Bool = false) throws {
        let api = ctx.api
        let g = try api.get(.guestStatus(ref), as: GuestStatus.self)
        if g.kind == GuestKind.kvm.rawValue && !serial {
            return try DesktopViewer.open(g)
        }
        try ConsoleClient.run(api: api, ref: ref, title: "\(g.name) (\(g.folder))", replay: "tail")
    }

    static func screenshot(_ ctx: Context, ref: String, to file: String) throws {
        let target = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
        let r = try ctx.api.post(.guestScreenshot(ref), [String: String](), as: ScreenshotResult.self, timeout: 60)
        let data = try Data(contentsOf: URL(fileURLWithPath: r.path))
        try AtomicFile.write(data, to: target)
        Out.say("saved the screen (\(r.width)×\(r.height) PNG) to \(target.path)")
    }

    static func vmfStart(_ ctx: Context, config: String?) throws {
        let request: VMFLoadRequest
        var path = ctx.layout.hvConfig.path
        if let config {
            path = absolute(config)
            request = VMFLoadRequest(config: path)
        } else if let folder = try? ctx.currentGuest() {
            // The hypervisor configuration the current guest folder names (its
            // guest_config.sh's HV_CONFIG), else the one all guest folders belong to:
            // hvd reads it (it sources that script at every start anyway).
            request = VMFLoadRequest(config: "", guest: folder)
        } else {
            Out.say("(not in a guest folder: using \(path))")
            request = VMFLoadRequest(config: path)
        }
        let s = try ctx.api.post(.vmfLoad, request, as: VMFStatus.self)
        Out.say("VMF loaded with \(s.config ?? path)")
        for (folder, cores) in s.reservedCores.sorted(by: { $0.key < $1.key }) where !cores.isEmpty {
            Out.say("  \(folder): reserved core\(cores.count == 1 ? "" : "s") \(cores.map(String.init).joined(separator: ","))")
        }
        if let p = s.partition { Out.say("  \(p.summary)") }
        for n in s.notes { Out.say("  note: \(n)") }
    }

    static func vmfStop(_ ctx: Context, yes: Bool) throws {
        let api = ctx.api
        let vmf = try api.get(.vmfStatus, as: VMFStatus.self)
        let running = try api.get(.guestList, as: [GuestStatus].self)
            .filter { $0.kind == GuestKind.rtos.rawValue && $0.state.isActive }
        if !running.isEmpty {
            Out.say("These RTOS guests are running and will be stopped:")
            for g in running { Out.say("  \(g.folder) (\(g.name), pid \(g.pid.map(String.init) ?? "?"))") }
            try Confirm.ask("Stop them and unload the VMF?", yes: yes)
        }
        guard vmf.loaded || !running.isEmpty else {
            Out.say("VMF is not loaded (nothing to do)")
            return
        }
        let after = try api.post(.vmfUnload, VMFUnloadRequest(stopGuests: true), as: VMFStatus.self, timeout: 900)
        Out.say(
            "VMF unloaded" + (running.isEmpty ? "" : " (stopped \(running.map(\.folder).joined(separator: ", ")))")
                + "; the RT cores belong to the host again")
        for n in after.notes { Out.say("  note: \(n)") }
    }

    static func list(_ ctx: Context, json: Bool) throws {
        let guests = try ctx.api.get(.guestList, as: [GuestStatus].self)
        if json {
            FileHandle.standardOutput.write(APIJSON.encode(guests) + Data("\n".utf8))
            return
        }
        guard !guests.isEmpty else {
            Out.say("no guests (create some: hv_open_example rt-linux && hv_sync_example rt-linux)")
            return
        }
        var rows = [["FOLDER", "NAME", "KIND", "STATE", "PID", "CORES", "ACCEL", "MEMORY", "ADDRESS"]]
        for g in guests {
            rows.append([
                g.folder, g.name, g.kind,
                g.state.rawValue + (g.paused != nil ? " (paused)" : "")
                    + (g.state == .running && !g.booted && g.os == GuestOS.rtLinux.rawValue ? " (booting)" : ""),
                g.pid.map(String.init) ?? "-", g.cores.isEmpty ? "-" : g.cores.map(String.init).joined(separator: ","),
                g.accelerator ?? "-", "\(g.memoryMiB) MiB", g.address ?? "-",
            ])
        }
        Out.say(Out.table(rows))
    }
}
