import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    /// RT-Linux's own disk on a small file system of the test's (loop-mounted
    /// under the scratch root) that fills while the guest writes: QEMU pauses
    /// the guest at the write it has no room for, hvd says so (status,
    /// events, metrics), the guest is not corrupted, and it runs on by itself
    /// once room is made, its write completed.
    @Suite struct FullDisk {
        @Test func aGuestWhoseDiskCannotGrowIsPausedSaidAndResumed() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(root: .debian)
            // 900 MiB: room to make the guest's first disk (a raw copy of the template and its qcow2 beside it
            // for a moment), then ballast leaves ~60 MiB.
            let small = host.root.appendingPathComponent("VMs/small"), image = host.root.appendingPathComponent("small.ext4")
            try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
            for step in [
                ["truncate", "-s", "900M", image.path], ["mkfs.ext4", "-q", "-F", "-m", "0", image.path],
                ["mount", "-o", "loop", image.path, small.path],
            ] {
                let r = try Command.run(step, timeout: 60)
                try #require(r.status == 0, "\(step.joined(separator: " ")): \(r.stderr)")
            }
            // 1 GiB: the guest grows its root to the disk's size at its first boot (inode tables for 8 GiB would fill it).
            try host.writeUserConfig(
                dir, "[Guest\\Boot]\n    \"Root\"=\"debian\"\n[Guest\\Disk]\n    \"Image\"=\"\(small.path)/rt.qcow2\"\n    \"SizeGiB\"=\"1\"\n")
            let start = host.run("hv_guest_start", cwd: dir, timeout: 300)
            try #require(start.status == 0, "\(start.all)")
            let ballast = small.appendingPathComponent("ballast")
            let room = try #require(freeMiB(small.path))
            try #require(room > 100, "\(room) MiB free after the first start")
            let fill = try Command.run(["dd", "if=/dev/zero", "of=\(ballast.path)", "bs=1M", "count=\(room - 60)", "conv=fsync"], timeout: 120)
            try #require(fill.status == 0, "\(fill.stderr)")
            let before = try #require(freeMiB(small.path))
            try #require(before < 120, "\(before) MiB free: the guest's write must not fit")

            // 160 MiB into the guest's own disk, synced: more than its file system has. In the guest's
            // background (ssh returns at once), its outcome in /root/dd.log.
            let write =
                "nohup sh -c 'dd if=/dev/zero of=/root/fill bs=1M count=160 conv=fsync > /root/dd.log 2>&1; echo dd-rc=$? >> /root/dd.log' > /dev/null 2>&1 &"
            let started = host.run("hv", ["guest", "ssh", "guestrtlinux", "--", write], timeout: 60)
            try #require(started.status == 0, "\(started.all)")
            try #require(host.waitUntil(300) { (try? host.status("guestrtlinux").paused) != nil }, "the guest was never paused")
            let status = try host.status("guestrtlinux")
            #expect(status.state == .running && status.paused?.contains("no space left") == true, "\(String(describing: status.paused))")
            #expect(host.run("hv", ["guest", "list"]).out.contains("running (paused)"))
            // The lifecycle events, as hvd's log has them (`hv events` follows them, and would not end).
            let events = host.text(host.layout.daemonLog)
            #expect(events.contains("guestrtlinux: paused: QEMU paused the guest: no space left"), "\(events.suffix(800))")
            let refused = host.run("hv", ["guest", "resume", "guestrtlinux"])
            #expect(refused.status != 0 && refused.err.contains("still full"), "\(refused.all)")

            // Room again: it runs on by itself, and its write completes whole.
            try FileManager.default.removeItem(at: ballast)
            #expect(host.waitUntil(60) { (try? host.status("guestrtlinux").paused) == nil }, "not resumed after room was made")
            var log = ""
            #expect(
                host.waitUntil(300) {
                    log = host.run("hv", ["guest", "ssh", "guestrtlinux", "--", "cat /root/dd.log"], timeout: 60).out
                    return log.contains("dd-rc=")
                })
            #expect(log.contains("dd-rc=0") && log.contains("167772160 bytes"), "the guest's write completed whole: \(log)")
            #expect(host.text(host.layout.daemonLog).contains("guestrtlinux: resumed: runs again"))
            let check = host.run("hv", ["guest", "ssh", "guestrtlinux", "--", "stat -c %s /root/fill && sync && echo fs-ok"], timeout: 120)
            #expect(check.out.contains("167772160") && check.out.contains("fs-ok"), "\(check.all)")
            #expect(host.run("hv_guest_stop", cwd: dir, timeout: 180).status == 0)
            let qemuImg = try Command.run(["qemu-img", "check", small.appendingPathComponent("rt.qcow2").path], timeout: 120)
            #expect(qemuImg.status == 0 && qemuImg.stdout.contains("No errors"), "the disk is whole: \(qemuImg.stdout)\(qemuImg.stderr)")
        }

        func freeMiB(_ path: String) -> UInt64? {
            var fs = statvfs()
            guard statvfs(path, &fs) == 0 else { return nil }
            return (UInt64(fs.f_bavail) * UInt64(fs.f_frsize)) >> 20
        }
    }
}
