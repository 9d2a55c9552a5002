import Foundation
import Testing
import HVCore
import HVEngine

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
            // 480 MiB: the guest's first disk (a copy of the template, ~280 MiB), 100 MiB of ballast, ~60 MiB left.
            let small = host.root.appendingPathComponent("VMs/small"), image = host.root.appendingPathComponent("small.ext4")
            try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
            for step in [["truncate", "-s", "480M", image.path], ["mkfs.ext4", "-q", "-F", "-m", "0", image.path],
                         ["mount", "-o", "loop", image.path, small.path]] {
                let r = try Command.run(step, timeout: 60)
                try #require(r.status == 0, "\(step.joined(separator: " ")): \(r.stderr)")
            }
            try host.writeUserConfig(dir, "[Guest\\Boot]\n    \"Root\"=\"debian\"\n[Guest\\Disk]\n    \"Image\"=\"\(small.path)/rt.qcow2\"\n")
            let start = host.run("hv_guest_start", cwd: dir, timeout: 300)
            try #require(start.status == 0, "\(start.all)")
            let ballast = small.appendingPathComponent("ballast")
            let fill = try Command.run(["dd", "if=/dev/zero", "of=\(ballast.path)", "bs=1M", "count=100"], timeout: 60)
            try #require(fill.status == 0, "\(fill.stderr)")
            let before = try #require(freeMiB(small.path))
            try #require(before < 120, "\(before) MiB free: the guest's write must not fit")

            // 160 MiB into the guest's own disk, synced: more than its file system has.
            let writer = host.session("hv", ["guest", "ssh", "guestrtlinux", "--",
                                             "dd if=/dev/zero of=/root/fill bs=1M count=160 conv=fsync 2>&1; echo dd-rc=$?"])
            try #require(host.waitUntil(300) { (try? host.status("guestrtlinux").paused) != nil }, "the guest was never paused: \(writer.output)")
            let status = try host.status("guestrtlinux")
            #expect(status.state == .running && status.paused?.contains("no space left") == true, "\(String(describing: status.paused))")
            #expect(host.run("hv", ["guest", "list"]).out.contains("running (paused)"))
            let events = host.run("hv", ["events"]).out
            #expect(events.contains("paused: QEMU paused the guest: no space left"), "\(events)")
            let refused = host.run("hv", ["guest", "resume", "guestrtlinux"])
            #expect(refused.status != 0 && refused.err.contains("still full"), "\(refused.all)")

            // Room again: it runs on by itself, and its write completes whole.
            try FileManager.default.removeItem(at: ballast)
            #expect(host.waitUntil(60) { (try? host.status("guestrtlinux").paused) == nil }, "not resumed after room was made")
            let done = writer.finish(timeout: 300)
            #expect(done.out.contains("dd-rc=0") && done.out.contains("167772160 bytes"), "\(done.all)")
            #expect(host.run("hv", ["events"]).out.contains("resumed: runs again"))
            let check = host.run("hv", ["guest", "ssh", "guestrtlinux", "--", "stat -c %s /root/fill && sync && echo fs-ok"], timeout: 120)
            #expect(check.out.contains("167772160") && check.out.contains("fs-ok"), "\(check.all)")
            #expect(host.run("hv_guest_stop", cwd: dir, timeout: 180).status == 0)
            let qemuImg = try Command.run(["qemu-img", "check", small.appendingPathComponent("rt.qcow2").path], timeout: 120)
            #expect(qemuImg.status == 0 && qemuImg.stdout.contains("No errors"), "the disk is whole: \(qemuImg.stdout)\(qemuImg.stderr)")
        }

        func freeMiB(_ path: String) -> UInt64? {
            var fs = statvfs()
            guard statvfs(path, &fs) == 0 else { return nil }
            return UInt64(fs.f_bavail) * UInt64(fs.f_frsize) >> 20
        }
    }
}
