import Foundation
import HVAPI
import HVCore
import Testing

extension EndToEnd {
    @Suite struct DaemonRestart {
        /// hvd killed with SIGKILL: the guest runs on, what it prints meanwhile
        /// is in the log, and a new hvd (started by the next command) adopts it.
        @Test func guestsOutliveHvd() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let start = host.run("hv_guest_start", cwd: dir)
            #expect(start.status == 0, "\(start.all)")
            let qemu = try #require(host.qemuPid("guestrtlinux"))

            // The guest will print while no hvd is there.
            let c = host.session("hv_guest_console", cwd: dir)
            c.send("\n(sleep 3; echo printed-while-hvd-was-dead-$((6*7))) &\necho armed\n")
            #expect(c.waitFor("armed", timeout: 30))
            c.send("\u{1D}")
            _ = c.finish()

            let hvd = try #require(host.hvdPid)
            kill(hvd, SIGKILL)
            usleep(4_500_000)
            #expect(!TestHost.isAlive(hvd))
            #expect(TestHost.isAlive(qemu), "the guest died with hvd")
            let log = try String(contentsOf: dir.appendingPathComponent("console.log"), encoding: .utf8)
            #expect(log.contains("printed-while-hvd-was-dead-42"))

            // The next command starts a new hvd, which re-adopts the guest.
            let list = host.run("hv", ["guest", "list", "--json"])
            let g = try #require(try JSONDecoder().decode([GuestStatus].self, from: Data(list.out.utf8)).first)
            #expect(g.state == .running && g.pid == Int(qemu))
            #expect(host.hvdPid != hvd)
            #expect(host.run("hv_vmf_is_loaded", cwd: dir).status == 0, "the VMF stays loaded across hvd restarts")

            let c2 = host.session("hv_guest_console", cwd: dir)
            #expect(c2.waitFor("printed-while-hvd-was-dead-42", timeout: 10), "the replay shows what the guest printed meanwhile")
            c2.send("echo adopted-$((2+3))\n")
            #expect(c2.waitFor("adopted-5", timeout: 30), "\(c2.output)")
            c2.send("\u{1D}")
            _ = c2.finish()

            let restart = host.run("hv_guest_restart", cwd: dir)
            #expect(restart.status == 0, "\(restart.all)")
            let stop = host.run("hv_guest_stop", cwd: dir)
            #expect(stop.status == 0 && stop.out.contains("gracefully"), "\(stop.all)")
            #expect(!TestHost.isAlive(qemu))
            let hook = try String(contentsOf: dir.appendingPathComponent("shutdown_hook.log"), encoding: .utf8)
            #expect(hook.contains("stopped (requested)"))
        }

        /// A guest that stops while no hvd watches still gets its hook run.
        @Test func aGuestThatStoppedWhileHvdWasDeadRunsItsHook() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            #expect(host.run("hv_guest_start", cwd: dir).status == 0)
            let qemu = try #require(host.qemuPid("guestrtlinux"))
            let hvd = try #require(host.hvdPid)
            kill(hvd, SIGKILL)
            usleep(300_000)
            kill(qemu, SIGKILL)
            usleep(500_000)
            let list = host.run("hv", ["guest", "list", "--json"])
            let g = try #require(try JSONDecoder().decode([GuestStatus].self, from: Data(list.out.utf8)).first)
            #expect(g.state == .stopped)
            let hook = try String(contentsOf: dir.appendingPathComponent("shutdown_hook.log"), encoding: .utf8)
            #expect(hook.contains("stopped (lost)"))
        }
    }
}
