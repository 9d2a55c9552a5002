import Foundation
import HVAPI
import HVCore
import Testing

extension EndToEnd {
    @Suite struct StopReasons {
        func state(_ host: TestHost) throws -> GuestStatus {
            try #require(try JSONDecoder().decode([GuestStatus].self, from: Data(host.run("hv", ["guest", "list", "--json"]).out.utf8)).first)
        }

        func waitForState(_ host: TestHost, _ wanted: GuestState) throws -> Bool {
            for _ in 0..<100 {
                if try state(host).state == wanted { return true }
                usleep(100_000)
            }
            return false
        }

        /// The hook runs however the guest stops: powered off from inside, or its QEMU killed.
        @Test func theHookNamesHowTheGuestStopped() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            try "#!/bin/bash\necho \"reason=$HV_STOP_REASON\"\n".write(to: dir.appendingPathComponent("vm_shutdown_hook.sh"), atomically: true, encoding: .utf8)
            #expect(host.run("hv_guest_start", cwd: dir).status == 0)
            let c = host.session("hv_guest_console", cwd: dir)
            c.send("\nhv-poweroff\n")
            _ = c.finish(timeout: 30)
            #expect(try waitForState(host, .stopped))
            var hook = try String(contentsOf: dir.appendingPathComponent("shutdown_hook.log"), encoding: .utf8)
            #expect(hook.contains("reason=guest-poweroff"), "\(hook)")

            #expect(host.run("hv_guest_start", cwd: dir).status == 0)
            let pid = try #require(host.qemuPid("guestrtlinux"))
            kill(pid, SIGKILL)
            #expect(try waitForState(host, .crashed))
            hook = try String(contentsOf: dir.appendingPathComponent("shutdown_hook.log"), encoding: .utf8)
            #expect(hook.contains("reason=crashed"), "\(hook)")
            #expect(try state(host).lastStop?.hasPrefix("crashed") == true)
            // A crashed guest starts again.
            #expect(host.run("hv_guest_start", cwd: dir).status == 0)
            #expect(host.run("hv_guest_stop", ["--force"], cwd: dir).status == 0)
        }

        /// A stop while hv_guest_start still waits for the boot is not refused as "busy".
        @Test func stopDuringAWaitingStart() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let start = host.session("hv_guest_start", cwd: dir)
            for _ in 0..<100 where host.qemuPid("guestrtlinux") == nil { usleep(20_000) }
            usleep(300_000)
            let stop = host.run("hv_guest_stop", cwd: dir)
            #expect(stop.status == 0 && stop.out.contains("still booting"), "\(stop.all)")
            let r = start.finish(timeout: 30)
            #expect(r.status != 0 && r.err.contains("stopped during boot"), "\(r.all)")
        }

        /// hv_vmf_start with a configuration file named; a broken one loads nothing.
        @Test func vmfStartWithAConfigFile() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare(loadVMF: false)
            let elsewhere = URL(fileURLWithPath: "/tmp")
            let ok = host.run("hv_vmf_start", [host.layout.hvConfig.path], cwd: elsewhere)
            #expect(ok.status == 0 && ok.out.contains("VMF loaded with \(host.layout.hvConfig.path)"), "\(ok.all)")
            #expect(host.run("hv_vmf_stop", ["--yes"]).status == 0)
            let broken = host.root.appendingPathComponent("broken.config")
            try
                (try String(contentsOf: host.layout.hvConfig, encoding: .utf8)
                + "[Guests\\guestx]\n    \"Id\"=\"1\"\n    \"Name\"=\"x\"\n    \"Os\"=\"rt-linux\"\n")
                .write(to: broken, atomically: true, encoding: .utf8)
            let r = host.run("hv_vmf_start", [broken.path], cwd: elsewhere)
            #expect(r.status == 3 && r.err.contains("guest id 1 of guestx is already used by guestrtlinux"), "\(r.err)")
            #expect(host.run("hv_vmf_is_loaded").status == 1)
            let missing = host.run("hv_vmf_start", ["/tmp/no-such-hv.config"], cwd: elsewhere)
            #expect(missing.status == 4 && missing.err.contains("/tmp/no-such-hv.config"), "\(missing.err)")
        }
    }
}
