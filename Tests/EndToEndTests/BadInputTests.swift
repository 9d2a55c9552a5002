import Foundation
import HVAPI
import HVCore
import Testing

extension EndToEnd {
    /// Bad input gets a clear error and changes nothing.
    @Suite struct BadInput {
        @Test func brokenUsrConfigLineStartsNothing() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let usr = dir.appendingPathComponent("usr.config")
            try host.writeUserConfig(dir, "; mine\n[Guest\\Memory]\n    \"SizeMiB\"=\"512\n")
            let r = host.run("hv_guest_start", cwd: dir)
            #expect(r.status == 3, "\(r.all)")
            #expect(r.err.contains("\(usr.path):3:"), "\(r.err)")
            #expect(host.qemuPid("guestrtlinux") == nil)
            #expect(!FileManager.default.fileExists(atPath: host.layout.guest("guestrtlinux").stateFile.path))
            let list = host.run("hv", ["guest", "list", "--json"])
            #expect(try JSONDecoder().decode([GuestStatus].self, from: Data(list.out.utf8)).first?.state == .stopped)
            // A key that does not exist is named, with the one meant.
            try "[Guest\\Cpu]\n    \"Cpus\"=\"2\"\n".write(to: usr, atomically: true, encoding: .utf8)
            let r2 = host.run("hv_guest_start", cwd: dir)
            #expect(r2.status == 3 && r2.err.contains("did you mean \"Cores\"?"), "\(r2.err)")
            #expect(try String(contentsOf: usr, encoding: .utf8) == "[Guest\\Cpu]\n    \"Cpus\"=\"2\"\n", "the file is left as it was")
        }

        @Test func unknownExampleAndCommandsOutsideAGuestFolder() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let r = host.run("hv_open_example", ["ubunutu_rtlinux"])
            #expect(r.status == 4)
            #expect(r.err.contains("did you mean ubuntu_rtlinux?") && r.err.contains("rt-linux, rtos-32, vxworks, windows_rtlinux, ubuntu_rtlinux"), "\(r.err)")
            #expect(!FileManager.default.fileExists(atPath: host.layout.hvConfig.path))
            #expect(host.run("hv", ["example", "open", "nope"]).status == 4)
            let sync = host.run("hv_sync_example", ["vxworks"])
            #expect(sync.status == 5 && sync.err.contains("hv_open_example vxworks"), "\(sync.err)")
            let outside = host.run("hv_guest_start", cwd: URL(fileURLWithPath: "/tmp"))
            #expect(outside.status == 2 && outside.err.contains("not a guest folder"), "\(outside.err)")
            let unknown = host.run("hv", ["guest", "start", "nosuchguest"])
            #expect(unknown.status == 4 && unknown.err.contains("no guest \"nosuchguest\""), "\(unknown.err)")
        }

        @Test func rtosGuestNeedsTheVMF() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let r = host.run("hv_guest_start", cwd: try host.prepare(loadVMF: false))
            #expect(r.status == 6 && r.err.contains("VMF is not loaded") && r.err.contains("hv_vmf_start"), "\(r.err)")
            #expect(host.qemuPid("guestrtlinux") == nil)
        }

        @Test func openingAnExampleOverGuestsAsksAndKeepsABackup() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare(loadVMF: false)
            let mine = host.folder("guestrtlinux").appendingPathComponent("my-notes.txt")
            try "keep me".write(to: mine, atomically: true, encoding: .utf8)
            // No terminal, no --yes: refused, nothing changed.
            let refused = host.run("hv_open_example", ["vxworks"])
            #expect(refused.status == 7 && refused.out.contains("guestrtlinux"), "\(refused.all)")
            #expect(FileManager.default.fileExists(atPath: mine.path))
            #expect(FileManager.default.fileExists(atPath: host.layout.hvConfig.path))
            let yes = host.run("hv_open_example", ["vxworks", "--yes"])
            #expect(yes.status == 0, "\(yes.all)")
            #expect(!FileManager.default.fileExists(atPath: mine.path))
            let backups = try FileManager.default.contentsOfDirectory(atPath: host.layout.backupDir.path)
            let b = try #require(backups.first)
            let saved = host.layout.backupDir.appendingPathComponent(b)
            #expect(try String(contentsOf: saved.appendingPathComponent("guests/guestrtlinux/my-notes.txt"), encoding: .utf8) == "keep me")
            #expect(FileManager.default.fileExists(atPath: saved.appendingPathComponent("config/hv.config").path))
            #expect(host.run("hv_sync_example", ["vxworks"]).status == 0)
        }

        @Test func guestsWithoutTheirImageOrISOSayWhatIsMissing() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let vx = try host.prepare("vxworks")
            let r = host.run("hv_guest_start", cwd: vx)
            #expect(r.status == 10 && r.err.contains(host.layout.template("vxworks").appendingPathComponent("vxWorks").path), "\(r.err)")
            #expect(host.run("hv_vmf_stop", ["--yes"], cwd: vx).status == 0)
            try host.prepare("windows_rtlinux", loadVMF: false)
            let win = host.run("hv_guest_start", cwd: host.folder("guestwindows"))
            let iso = host.layout.isoDir.appendingPathComponent("windows.iso").path
            #expect(win.status == 10 && win.err.contains("Windows") && win.err.contains("put it at \(iso)"), "\(win.err)")
            #expect(!FileManager.default.fileExists(atPath: host.layout.vmsDir.appendingPathComponent("example_win/windows.qcow2").path))
            let restartStopped = host.run("hv_guest_restart", cwd: host.folder("guestrtlinux"))
            #expect(restartStopped.status == 5 && restartStopped.err.contains("not running"), "\(restartStopped.err)")
        }

        /// A boot that prints nothing is noticed, reset once, then reported.
        @Test func aSilentBootIsReportedAsStalled() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(loadVMF: false)
            try host.writeUserConfig(dir, "[Guest\\Boot]\n    \"BootStallSeconds\"=\"4\"\n")
            // The kernel and init then write to a screen that this guest does not have.
            try "HV_KERNEL_APPEND=\"console=tty0\"\n".write(to: dir.appendingPathComponent("usr_guest_config.sh"), atomically: true, encoding: .utf8)
            _ = host.run("hv_vmf_start", cwd: dir)
            let r = host.run("hv_guest_start", cwd: dir, timeout: 60)
            #expect(r.status == 11, "\(r.all)")
            #expect(r.err.contains("printed nothing for 4 s") && r.err.contains("again after hv reset it once"), "\(r.err)")
            let list = host.run("hv", ["guest", "list", "--json"])
            #expect(try JSONDecoder().decode([GuestStatus].self, from: Data(list.out.utf8)).first?.state == .stalled)
            let stop = host.run("hv_guest_stop", cwd: dir)
            #expect(stop.status == 0, "\(stop.all)")
            #expect(host.qemuPid("guestrtlinux") == nil || !TestHost.isAlive(host.qemuPid("guestrtlinux") ?? 0))
        }
    }
}
