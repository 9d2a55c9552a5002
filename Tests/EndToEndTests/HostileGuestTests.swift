import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    /// A guest is root inside itself and may be hostile. From the RT-Linux
    /// guest's root shell it tries to plant or change every file hv runs or
    /// parses as root: nothing changes, nothing planted runs, its QEMU is not
    /// root, and its exchange folder still takes what it writes.
    @Suite struct HostileGuest {
        static let targets = ["vm_shutdown_hook.sh", "usr_guest_config.sh", "guest_config.sh", "guest.config", "usr.config", "planted.sh"]

        @Test func aGuestCannotPlantWhatTheHostRunsAsRoot() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            // A small exchange folder, so that filling it is quick (the user's override, root's file).
            try host.writeUserConfig(dir, "[Guest\\Share]\n    \"ExchangeMiB\"=\"16\"\n")
            let marker = "/tmp/hv-planted-\(UUID().uuidString.prefix(8))"
            defer { unlink(marker) }
            let before = Dictionary(uniqueKeysWithValues: Self.targets.map { ($0, host.text(dir.appendingPathComponent($0))) })
            let hvConfigBefore = host.text(host.layout.hvConfig)

            let view = host.session("hv_guest_start", ["-view"], cwd: dir)
            #expect(view.waitFor("rt-linux:/# ", timeout: 150), "\(view.output)")
            // Results come back as "RES <what> <100 + exit status>", so the typed line (echoed) never matches them.
            let files = Self.targets.joined(separator: " ") + " ../x.config"
            view.send(
                "M=\(marker); cd /hv/guests/guestrtlinux; for f in \(files); do (echo \"touch $M\" >> $f) 2>/dev/null; "
                    + "echo \"RES $f $(( $? + 100 ))\"; done; ln -s /etc/shadow console.log.1 2>/dev/null; echo \"RES link $(( $? + 100 ))\"; "
                    + "echo mine > exchange/note.txt; echo \"RES exchange $(( $? + 100 ))\"; echo END-$((6*7))\n")
            #expect(view.waitFor("END-42", timeout: 90), "\(view.output.suffix(1500))")
            // Filling the share fills the guest's own exchange file system, not the host's disk.
            view.send(
                "dd if=/dev/zero of=exchange/fill bs=1M count=64 2>/dev/null; echo \"RES fill $(( $? + 100 ))\"; "
                    + "rm exchange/fill; echo again > exchange/again.txt; echo \"RES again $(( $? + 100 ))\"; echo FULL-$((6*8))\n")
            #expect(view.waitFor("FULL-48", timeout: 90), "\(view.output.suffix(1500))")
            #expect(view.output.contains("RES fill 1") && !view.output.contains("RES fill 100"), "the guest wrote 64 MiB into 16: \(view.output.suffix(800))")
            #expect(view.output.contains("RES again 100"), "after making room the guest writes again: \(view.output.suffix(800))")
            #expect(host.text(dir.appendingPathComponent("exchange/again.txt")) == "again\n")
            for f in Self.targets + ["../x.config", "link"] {
                #expect(!view.output.contains("RES \(f) 100") && view.output.contains("RES \(f) 1"), "\(f): \(view.output.suffix(1500))")
            }
            #expect(view.output.contains("RES exchange 100"), "\(view.output.suffix(1500))")
            view.send("\u{1D}")
            _ = view.finish(timeout: 20)
            #expect(host.text(dir.appendingPathComponent("exchange/note.txt")) == "mine\n")

            // Its QEMU is a user of its own, not root.
            let pid = try #require(try host.status("guestrtlinux").pid)
            let uidLine = host.text(URL(fileURLWithPath: "/proc/\(pid)/status")).split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
            let uids = uidLine.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().compactMap { UInt32($0) }
            #expect(uids.count == 4 && !uids.contains(0), "QEMU runs as \(uidLine)")
            #expect(uids.first == GuestIdentity.uidBase + 1, "the guest's own user (base + its Id): \(uidLine)")

            // Another local user makes the hook writable: hv refuses to run it at the stop.
            chmod(dir.appendingPathComponent("vm_shutdown_hook.sh").path, 0o666)
            let stop = host.run("hv_guest_stop", cwd: dir, timeout: 120)
            #expect(stop.status == 0, "\(stop.all)")
            #expect(
                host.waitUntil(10) { host.text(dir.appendingPathComponent("shutdown_hook.log")).contains("not run") },
                "\(host.text(dir.appendingPathComponent("shutdown_hook.log")))")
            #expect(host.text(dir.appendingPathComponent("shutdown_hook.log")).contains("mode 666"))
            chmod(dir.appendingPathComponent("vm_shutdown_hook.sh").path, 0o755)

            // A script others can write stops the start, naming the file, its mode and the fix; nothing starts.
            chmod(dir.appendingPathComponent("usr_guest_config.sh").path, 0o666)
            let refused = host.run("hv_guest_start", cwd: dir)
            #expect(
                refused.status == 3 && refused.err.contains("usr_guest_config.sh") && refused.err.contains("mode 666")
                    && refused.err.contains("chmod go-w"), "\(refused.all)")
            #expect(try host.status("guestrtlinux").state == .stopped)
            chmod(dir.appendingPathComponent("usr_guest_config.sh").path, 0o644)
            // A root the guest's user cannot pass through is named, with the fix, before QEMU runs.
            chmod(host.root.path, 0o700)
            let unreachable = host.run("hv_guest_start", cwd: dir)
            chmod(host.root.path, 0o755)
            #expect(
                unreachable.status != 0 && unreachable.err.contains("cannot pass through \(host.root.path)")
                    && unreachable.err.contains("chmod o+x"), "\(unreachable.all)")

            // Nothing planted ran; nothing hv reads changed.
            #expect(!FileManager.default.fileExists(atPath: marker), "a planted script ran as root")
            for f in Self.targets { #expect(host.text(dir.appendingPathComponent(f)) == before[f], "\(f) changed") }
            #expect(host.text(host.layout.hvConfig) == hvConfigBefore)
            #expect(!FileManager.default.fileExists(atPath: host.layout.guestsDir.appendingPathComponent("x.config").path))

            // Opening an example again moves the guest (its exchange file system unmounted first) to backup/.
            #expect(!ExchangeFolder.mounts(under: host.layout.guestsDir).isEmpty, "the exchange folder stays mounted after the stop")
            let reopened = host.run("hv_open_example", ["rt-linux", "--yes"])
            #expect(reopened.status == 0, "\(reopened.all)")
            #expect(ExchangeFolder.mounts(under: host.root).isEmpty, "a mount was carried along: \(ExchangeFolder.mounts(under: host.root))")
        }
    }
}
