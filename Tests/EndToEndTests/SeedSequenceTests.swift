import Foundation
import HVAPI
import HVCore
import Testing

extension EndToEnd {
    @Suite struct SeedSequence {
        /// The whole walk-through, with a real PREEMPT_RT guest.
        @Test func fromOpenExampleToVmfStop() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            #expect(host.run("hv_open_example", ["rt-linux"]).status == 0)
            #expect(host.run("hv_sync_example", ["rt-linux"]).status == 0)
            let dir = host.folder("guestrtlinux")
            for f in ["guest_config.sh", "usr_guest_config.sh", "guest.config", "usr.config", "vm_shutdown_hook.sh"] {
                #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), "missing \(f)")
            }
            try """
            #!/bin/bash
            echo "hook: name=$HV_GUEST_NAME folder=$HV_GUEST_FOLDER reason=$HV_STOP_REASON plant=$PLANT"
            """.write(to: dir.appendingPathComponent("vm_shutdown_hook.sh"), atomically: true, encoding: .utf8)
            try "HV_HOOK_ENV=(PLANT=line3)\n".write(to: dir.appendingPathComponent("usr_guest_config.sh"), atomically: true, encoding: .utf8)

            let notLoaded = host.run("hv_vmf_is_loaded", cwd: dir)
            #expect(notLoaded.status == 1 && notLoaded.out.contains("VMF is not loaded"))
            #expect(host.run("hv_vmf_start", cwd: dir).status == 0)
            let loaded = host.run("hv_vmf_is_loaded", cwd: dir)
            #expect(loaded.status == 0 && loaded.out.contains("VMF is loaded"))
            #expect(host.run("hv", ["vmf", "is-loaded"]).status == 0, "the same through `hv vmf`")

            // Boot with the console attached: the boot is shown, the shell answers (the
            // example's default, the Debian root: its console logs root in, as the README says).
            let view = host.session("hv_guest_start", ["-view"], cwd: dir)
            #expect(view.waitFor("hv-guest: ready", timeout: 180), "no ready line: \(view.output)")
            #expect(view.waitFor("root@guestrtlinux:~# ", timeout: 60), "\(view.output.suffix(800))")
            view.send("uname -a; ls /hv/guests; echo written-by-guest > /hv/guests/guestrtlinux/exchange/from-guest.txt; echo DONE-$((40+2))\n")
            #expect(view.waitFor("DONE-42", timeout: 30), "\(view.output)")
            #expect(view.output.contains("PREEMPT_RT"))
            #expect(view.output.contains("guestrtlinux"))
            // A second console is refused while this one is attached, naming the holder.
            let second = host.run("hv_guest_console", cwd: dir)
            #expect(second.status == 5 && second.err.contains("already open") && second.err.contains("held by"), "\(second.all)")
            view.send("\u{1D}")
            let detached = view.finish(timeout: 20)
            #expect(detached.status == 0 && detached.err.contains("detached"))
            // The guest writes to its exchange folder only (docs/SECURITY.md).
            #expect(try String(contentsOf: dir.appendingPathComponent("exchange/from-guest.txt"), encoding: .utf8) == "written-by-guest\n")

            // Detaching left it running; starting it again is refused.
            let twice = host.run("hv_guest_start", cwd: dir)
            #expect(twice.status == 5 && twice.err.contains("already running"), "\(twice.all)")

            // Placement and the JSON list.
            let list = host.run("hv", ["guest", "list", "--json"])
            let guests = try JSONDecoder().decode([GuestStatus].self, from: Data(list.out.utf8))
            let g = try #require(guests.first)
            #expect(g.name == "RT-Linux" && g.folder == "guestrtlinux" && g.kind == "rtos" && g.state == .running)
            #expect(g.accelerator == "tcg" || g.accelerator == "kvm")
            let pid = try #require(g.pid)
            let lastCore = ProcessInfo.processInfo.activeProcessorCount - 1
            if lastCore > 0 {
                #expect(g.cores == [lastCore])
                // Read back from the kernel, not what hv meant to do.
                #expect(g.vcpuPlacement.count == 1 && g.vcpuPlacement.allSatisfy { $0.cores == [lastCore] })
                #expect(g.vcpuPlacement.allSatisfy { $0.policy == (g.schedFIFO ? "fifo" : "other") })
                let vcpu = try #require(threads(of: Int32(pid)).first { $0.name.hasPrefix("CPU 0/") }, "no vCPU thread")
                #expect(vcpu.allowed == "\(lastCore)")
                #expect(threads(of: Int32(pid)).filter { !$0.name.hasPrefix("CPU ") }.allSatisfy { $0.allowed != "\(lastCore)" })
            }

            // hv_vmf_start again while the guest runs changes nothing beneath it.
            let reload = host.run("hv_vmf_start", cwd: dir)
            #expect(reload.status == 0 && reload.out.contains("nothing was reloaded"), "\(reload.all)")
            if lastCore > 0 {
                let again = try JSONDecoder().decode([GuestStatus].self, from: Data(host.run("hv", ["guest", "list", "--json"]).out.utf8))
                #expect(again.first?.vcpuPlacement.first?.cores == [lastCore])
            }

            // The console again, then a reboot without reloading the configuration.
            let again = host.session("hv_guest_console", cwd: dir)
            again.send("\necho again-$((1+1))\n")
            #expect(again.waitFor("again-2", timeout: 30), "\(again.output)")
            again.send("\u{1D}")
            _ = again.finish()
            let restart = host.run("hv_guest_restart", cwd: dir)
            #expect(restart.status == 0 && restart.out.contains("rebooted"), "\(restart.all)")
            let log = try String(contentsOf: dir.appendingPathComponent("console.log"), encoding: .utf8)
            #expect(log.components(separatedBy: "hv-guest: ready").count - 1 == 2)
            #expect(host.qemuPid("guestrtlinux") == Int32(pid), "a restart is a reboot of the same QEMU")

            // Graceful stop runs the hook with the guest's name and the reason.
            let stop = host.run("hv_guest_stop", cwd: dir)
            #expect(stop.status == 0 && stop.out.contains("gracefully"), "\(stop.all)")
            #expect(!TestHost.isAlive(Int32(pid)))
            let hook = try String(contentsOf: dir.appendingPathComponent("shutdown_hook.log"), encoding: .utf8)
            #expect(hook.contains("hook: name=RT-Linux folder=guestrtlinux reason=requested plant=line3"), "\(hook)")
            let stopAgain = host.run("hv_guest_stop", cwd: dir)
            #expect(stopAgain.status == 0 && stopAgain.out.contains("not running"))

            // hv_vmf_stop while a guest runs: refused without a terminal, done with --yes.
            #expect(host.run("hv_guest_start", cwd: dir).status == 0)
            let refused = host.run("hv_vmf_stop", cwd: dir)
            #expect(refused.status == 7 && refused.err.contains("no terminal"), "\(refused.all)")
            #expect(host.run("hv_vmf_is_loaded", cwd: dir).status == 0)
            let unload = host.run("hv_vmf_stop", ["--yes"], cwd: dir)
            #expect(unload.status == 0 && unload.out.contains("VMF unloaded"), "\(unload.all)")
            #expect(host.run("hv_vmf_is_loaded", cwd: dir).status == 1)
            let hook2 = try String(contentsOf: dir.appendingPathComponent("shutdown_hook.log"), encoding: .utf8)
            #expect(hook2.contains("reason=vmf-unload"), "\(hook2)")
        }

        struct ThreadInfo {
            var name: String
            var allowed: String
        }

        func threads(of pid: Int32) -> [ThreadInfo] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.compactMap { tid in
                guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/status", encoding: .utf8) else { return nil }
                func field(_ name: String) -> String {
                    status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                        .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) } ?? ""
                }
                return ThreadInfo(name: field("Name"), allowed: field("Cpus_allowed_list"))
            }
        }
    }
}
