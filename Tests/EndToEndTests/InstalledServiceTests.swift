import Foundation
import HVAPI
import HVCore
import Testing

extension EndToEnd {
    /// What the installed service does, without systemd: guests restarted by
    /// policy (and only up to the limit), the event stream saying so, the boot
    /// sequence and its reverse, hv_resethv, and hv_vmf_start's HV_CONFIG.
    /// (Under a real systemd: Tests/Service/run.sh.)
    @Suite struct InstalledService {
        func status(_ host: TestHost) throws -> GuestStatus {
            try JSONDecoder().decode(GuestStatus.self, from: Data(host.run("hv", ["guest", "status", "guestrtlinux"]).out.utf8))
        }

        /// Waits until QEMU's pid file names a live process other than `old`.
        func newPid(_ host: TestHost, other old: Int32?, timeout: Double = 30) -> Int32? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if let p = host.qemuPid("guestrtlinux"), p != old, TestHost.isAlive(p), (try? status(host).state) == .running { return p }
                usleep(100_000)
            }
            return nil
        }

        @Test func aKilledGuestIsRestartedUpToItsLimitAndTheEventsSaySo() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let usr = dir.appendingPathComponent("usr.config")
            try
                (try String(contentsOf: usr, encoding: .utf8)
                + "[Guest\\Recovery]\n    \"OnCrash\"=\"restart\"\n    \"RestartLimitBurst\"=\"2\"\n    \"RestartLimitIntervalSeconds\"=\"600\"\n")
                .write(to: usr, atomically: true, encoding: .utf8)
            let events = host.session("hv", ["events", "--json"])
            defer {
                kill(events.process.processIdentifier, SIGKILL)
                _ = events.finish(timeout: 5)
            }
            #expect(host.run("hv_guest_start", ["--no-wait"], cwd: dir).status == 0)
            var pid = try #require(newPid(host, other: nil))
            for round in 1...2 {
                kill(pid, SIGKILL)
                pid = try #require(newPid(host, other: pid), "not restarted after kill \(round)")
            }
            kill(pid, SIGKILL)
            // The third crash within the interval is past RestartLimitBurst=2: it stays crashed.
            try #require(events.waitFor("restart-limit", timeout: 30), "\(events.output.suffix(1500))")
            usleep(1_500_000)
            #expect(try status(host).state == .crashed)
            #expect(host.qemuPid("guestrtlinux").map(TestHost.isAlive) != true)
            let kinds = events.output.split(separator: "\n").compactMap { try? JSONDecoder().decode(LifecycleEvent.self, from: Data($0.utf8)) }
                .filter { $0.guest == "guestrtlinux" }.map(\.kind)
            #expect(kinds.filter { $0 == .crashed }.count == 3 && kinds.filter { $0 == .restarting }.count == 2, "\(kinds)")
            #expect(kinds.first == .started && kinds.last == .restartLimit, "\(kinds)")
            // The human form names guest and kind on one line; --replay shows what came before.
            let text = host.run("hv", ["events", "--replay", "--count", "3"], timeout: 20)
            #expect(text.status == 0 && text.out.contains("guestrtlinux") && text.out.contains("vmf-loaded"), "\(text.all)")
            // Started by hand again, it runs (the limit holds back the policy, not the user).
            #expect(host.run("hv_guest_start", ["--no-wait"], cwd: dir).status == 0)
            #expect(host.run("hv_guest_stop", ["--force"], cwd: dir).status == 0)
        }

        /// The user's application starts at boot (autorun.sh in the guest folder); a
        /// heartbeat that stops is reported and, with Watchdog=reset, the guest is reset.
        @Test func autorunStartsAndAStoppedHeartbeatResetsTheGuest() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let usr = dir.appendingPathComponent("usr.config")
            try
                (try String(contentsOf: usr, encoding: .utf8)
                + "[Guest\\Recovery]\n    \"Watchdog\"=\"reset\"\n    \"HeartbeatTimeoutSeconds\"=\"4\"\n")
                .write(to: usr, atomically: true, encoding: .utf8)
            let autorun = dir.appendingPathComponent("autorun.sh")
            try "echo \"controller up on $(uname -r)\" > /hv/guests/guestrtlinux/exchange/autorun.txt\n"
                .write(to: autorun, atomically: true, encoding: .utf8)
            chmod(autorun.path, 0o644)
            let events = host.session("hv", ["events", "--json"])
            defer {
                kill(events.process.processIdentifier, SIGKILL)
                _ = events.finish(timeout: 5)
            }
            let start = host.run("hv_guest_start", cwd: dir)
            try #require(start.status == 0, "\(start.all)")
            let ran = dir.appendingPathComponent("exchange/autorun.txt")
            #expect(
                host.waitUntil(30) { host.text(ran).contains("controller up on") },
                "autorun.sh did not run: \(host.text(dir.appendingPathComponent("console.log")).suffix(600))")
            // Beating: nothing reported while the guest lives.
            sleep(7)
            #expect(!events.output.contains("heartbeat-missed"), "\(events.output.suffix(600))")
            let beat = dir.appendingPathComponent("exchange/.hv-heartbeat")
            #expect(FileManager.default.fileExists(atPath: beat.path))
            // The loop stops (as when a real-time task starves the guest): reported, then reset.
            _ = host.guestRun("guestrtlinux", "kill $(cat /run/hv-heartbeat.pid)")
            #expect(events.waitFor("heartbeat-missed", timeout: 30), "\(events.output.suffix(600))")
            #expect(events.output.contains("resetting the guest"))
            let console = dir.appendingPathComponent("console.log")
            #expect(
                host.waitUntil(120) { host.text(console).components(separatedBy: "hv-guest: ready").count >= 3 },
                "no boot after the reset: \(host.text(console).suffix(600))")
            #expect(try status(host).state == .running)
            #expect(host.run("hv_guest_stop", ["--force"], cwd: dir).status == 0)
        }

        @Test func autostartRunsTheListInOrderAndStopsItInReverse() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(loadVMF: false)
            // Off by default: running it starts nothing.
            let off = host.run("hv", ["autostart", "run"])
            #expect(off.status == 0 && off.out.contains("autostart is off"), "\(off.all)")
            // A guest that does not exist is refused and nothing is written.
            let bad = host.run("hv", ["autostart", "set", "guestrtlinux", "no such guest"])
            #expect(bad.status != 0 && bad.err.contains("guest 2 (no such guest)"), "\(bad.all)")
            #expect(!FileManager.default.fileExists(atPath: AutostartFiles.stateFile(host.layout).path))
            // Set twice: the same plan, no dance.
            for _ in 1...2 { #expect(host.run("hv", ["autostart", "set", "guestrtlinux:1"]).status == 0) }
            let plan = try JSONDecoder().decode(AutostartPlan.self, from: Data(host.run("hv", ["autostart", "list", "--json"]).out.utf8))
            #expect(plan.enabled && plan.guests == [.init(folder: "guestrtlinux", delaySeconds: 1)] && plan.problems == [], "\(plan)")

            let run = host.run("hv", ["autostart", "run"], timeout: 240)
            #expect(run.status == 0 && run.out.contains("VMF loaded") && run.out.contains("is up in"), "\(run.all)")
            #expect(host.run("hv_vmf_is_loaded").status == 0)
            #expect(try status(host).booted == true)
            // Run again (hvd restarted, say): nothing starts twice.
            let again = host.run("hv", ["autostart", "run"], timeout: 60)
            #expect(again.status == 0 && again.out.contains("already running"), "\(again.all)")

            // The seed's command: -disable, then -enable with the list file as the user wrote it.
            #expect(host.run("hv_set_autostart", ["-disable"]).status == 0)
            #expect(try AutostartFiles.read(host.layout).enabled == false)
            try "guestrtlinux\n".write(to: AutostartFiles.listFile(host.layout), atomically: true, encoding: .utf8)
            let enable = host.run("hv_set_autostart", ["-enable", host.layout.hvConfig.path])
            #expect(enable.status == 0 && enable.out.contains("then guestrtlinux"), "\(enable.all)")
            #expect(host.run("hv_set_autostart", ["-enable", "-disable"]).status != 0)

            // What shutdown does: the guest powers off gracefully (its hook says "requested"), the VMF unloads.
            try "#!/bin/bash\necho \"reason=$HV_STOP_REASON\"\n".write(to: dir.appendingPathComponent("vm_shutdown_hook.sh"), atomically: true, encoding: .utf8)
            let stop = host.run("hv", ["autostart", "stop"], timeout: 120)
            #expect(stop.status == 0 && stop.out.contains("VMF unloaded"), "\(stop.all)")
            #expect(try status(host).state == .stopped)
            #expect(host.run("hv_vmf_is_loaded").status == 1)
            let hook = try String(contentsOf: dir.appendingPathComponent("shutdown_hook.log"), encoding: .utf8)
            #expect(hook.contains("reason=requested"), "\(hook)")
        }

        @Test func resethvAsksKeepsABackupAndRefusesUnderALoadedVMF() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare()
            let before = try String(contentsOf: host.layout.hvConfig, encoding: .utf8)
            let asked = host.run("hv_resethv")
            #expect(asked.status != 0 && asked.err.contains("no terminal"), "\(asked.all)")
            let loaded = host.run("hv_resethv", ["--yes"])
            #expect(loaded.status != 0 && loaded.err.contains("hv_vmf_stop"), "\(loaded.all)")
            #expect(try String(contentsOf: host.layout.hvConfig, encoding: .utf8) == before, "changed although refused")
            #expect(host.run("hv_vmf_stop", ["--yes"]).status == 0)
            let reset = host.run("hv_resethv", ["--yes"])
            #expect(reset.status == 0 && reset.out.contains("empty again"), "\(reset.all)")
            #expect(!FileManager.default.fileExists(atPath: host.layout.hvConfig.path))
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: host.layout.projectsDir.path)) ?? ["?"]).isEmpty)
            let backups = BackupStore(layout: host.layout).entries()
            let kept = try #require(backups.first).name
            #expect(try String(contentsOf: host.layout.backupDir.appendingPathComponent("\(kept)/config/hv.config"), encoding: .utf8) == before)
            #expect(FileManager.default.fileExists(atPath: host.folder("guestrtlinux").appendingPathComponent("guest.config").path), "guest folders stay")
            let twice = host.run("hv_resethv", ["--yes"])
            #expect(twice.status == 0 && twice.out.contains("nothing to reset"), "\(twice.all)")
        }

        @Test func vmfStartInAFolderLoadsTheConfigurationItNames() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(loadVMF: false)
            let other = host.layout.configDir.appendingPathComponent("line 3.config")
            try FileManager.default.copyItem(at: host.layout.hvConfig, to: other)
            try "HV_CONFIG='config/line 3.config'\n".write(to: dir.appendingPathComponent("usr_guest_config.sh"), atomically: true, encoding: .utf8)
            let r = host.run("hv_vmf_start", cwd: dir)
            #expect(r.status == 0 && r.out.contains("VMF loaded with \(other.path)"), "\(r.all)")
            #expect(host.run("hv_vmf_stop", ["--yes"]).status == 0)
            // Named but missing: said, nothing loaded.
            try "HV_CONFIG=config/gone.config\n".write(to: dir.appendingPathComponent("usr_guest_config.sh"), atomically: true, encoding: .utf8)
            let gone = host.run("hv_vmf_start", cwd: dir)
            #expect(gone.status != 0 && gone.err.contains("gone.config"), "\(gone.all)")
            #expect(host.run("hv_vmf_is_loaded").status == 1)
        }
    }
}
