import Foundation
import HVAPI
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// What hv-autostart.service does at boot and at shutdown.
enum Autostart {
    /// The VMF with the plan's configuration, then each guest once the one
    /// before is up. A guest that fails is reported and the next one still
    /// starts (the HMI should not stay dark because another guest failed);
    /// the command then fails, so `systemctl status` shows it.
    static func run(_ ctx: Context, timeout: Double) throws {
        let api = ctx.api
        let plan = try api.get(.autostart, as: AutostartPlan.self)
        guard plan.enabled else {
            Out.say("autostart is off: nothing to start (hv autostart set, or hv_set_autostart -enable)")
            return
        }
        for p in plan.problems ?? [] { Out.warn("autostart: \(p)") }
        let vmf = try api.get(.vmfStatus, as: VMFStatus.self)
        if vmf.loaded && vmf.config == plan.hypervisorConfig {
            Out.say("autostart: the VMF is already loaded with \(plan.hypervisorConfig)")
        } else {
            let s = try api.post(.vmfLoad, VMFLoadRequest(config: plan.hypervisorConfig), as: VMFStatus.self)
            Out.say("autostart: VMF loaded with \(s.config ?? plan.hypervisorConfig)")
            for n in s.notes { Out.say("  note: \(n)") }
        }
        var failed: [String] = []
        for g in plan.guests {
            if g.delaySeconds > 0 {
                Out.say("autostart: waiting \(g.delaySeconds) s before \(g.folder)")
                sleep(UInt32(g.delaySeconds))
            }
            do {
                let status = try api.get(.guestStatus(g.folder), as: GuestStatus.self)
                if status.state == .running || status.state == .starting {
                    Out.say("autostart: \(g.folder) is already running")
                    continue
                }
                let r = try api.post(
                    .guestStart(g.folder), StartRequest(wait: true, timeoutSeconds: min(timeout, 3600)),
                    as: ActionResult.self, timeout: timeout + 30)
                Out.say("autostart: \(r.message)")
            } catch let e as HVError {
                Out.warn("autostart: \(g.folder) did not start: \(e.message)" + (e.hint.map { " (\($0))" } ?? ""))
                failed.append(g.folder)
            }
        }
        guard failed.isEmpty else {
            throw HVError(
                .io, "autostart: \(failed.count) of \(plan.guests.count) guests did not start: \(failed.joined(separator: ", "))",
                hint: "hv guest status NAME and its console.log say why")
        }
    }

    /// Every running guest, gracefully (each with its own TimeoutSeconds):
    /// the autostart list in reverse first (the controller last), then the
    /// others; then the VMF is unloaded. Shutdown hooks run as for any stop.
    static func stopAll(_ ctx: Context) throws {
        let api = ctx.api
        let plan = (try? api.get(.autostart, as: AutostartPlan.self))
        let running = try api.get(.guestList, as: [GuestStatus].self).filter { $0.state.isActive }.map(\.folder)
        let listed = (plan?.guests.map(\.folder) ?? []).reversed().filter { running.contains($0) }
        let order = running.filter { !listed.contains($0) } + listed
        for folder in order {
            do {
                let r = try api.post(.guestStop(folder), StopRequest(force: false), as: ActionResult.self)
                Out.say("autostart: \(r.message)")
            } catch let e as HVError {
                Out.warn("autostart: \(folder): \(e.message)")
            }
        }
        let vmf = try api.get(.vmfStatus, as: VMFStatus.self)
        if vmf.loaded {
            _ = try api.post(.vmfUnload, VMFUnloadRequest(stopGuests: true), as: VMFStatus.self)
            Out.say("autostart: VMF unloaded")
        }
    }
}

/// Follows GET /v1/lifecycle with long polls; rides out an hvd restart.
struct EventFollower {
    let api: APIClient
    let json: Bool
    let replay: Bool
    let count: Int

    func run() throws {
        var first = try api.get(.lifecycle, query: ["after": "0"], as: LifecycleEvents.self)
        var daemon = first.daemon
        var after = first.events.last?.seq ?? 0
        var shown = 0
        if !replay { first.events = [] }
        var batch = first.events
        var announcedGone = false
        while true {
            for e in batch {
                emit(e)
                shown += 1
                if count > 0 && shown >= count { return }
            }
            do {
                let next = try api.get(
                    .lifecycle, query: ["after": String(after), "wait": "30"], as: LifecycleEvents.self,
                    timeout: 45, start: false)
                if next.daemon != daemon {
                    // A new hvd numbers its events from 1 again: take all it has.
                    daemon = next.daemon
                    batch = try api.get(.lifecycle, query: ["after": "0"], as: LifecycleEvents.self, start: false).events
                    after = batch.last?.seq ?? 0
                } else {
                    batch = next.events
                    after = batch.last?.seq ?? after
                }
                announcedGone = false
            } catch let e as HVError where e.code == .daemonUnavailable {
                if !announcedGone && !json { Out.warn("(hvd is not answering; waiting for it)") }
                announcedGone = true
                batch = []
                usleep(500_000)
            }
        }
    }

    private func emit(_ e: LifecycleEvent) {
        if json {
            FileHandle.standardOutput.write(APIJSON.encodeCompact(e) + Data("\n".utf8))
        } else {
            Out.say(
                "\(e.time)  \((e.guest ?? "-").padding(toLength: 16, withPad: " ", startingAt: 0)) \(e.kind.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(e.detail)"
            )
        }
        fflush(nil)
    }
}
