import Foundation
import HVCore
import Testing

extension EndToEnd {
    /// RT-Linux on its Debian root, as a machine builder uses it: reached
    /// with hv guest ssh, a controller built on the host installed as a
    /// unit, everything on its own disk kept across stops, an hvd crash and
    /// a rebuilt template, its clock on the host's, the communication
    /// subsystem as with the busybox image.
    @Suite struct DebianRoot {
        func ssh(_ host: TestHost, _ command: [String], timeout: Double = 60) -> TestHost.Result {
            host.run("hv", ["guest", "ssh", "guestrtlinux", "--"] + command, timeout: timeout)
        }

        /// The controller: a C program built on this host, linked against its shared libraries.
        static let controller = """
            #define _GNU_SOURCE
            #include <sched.h>
            #include <stdio.h>
            #include <sys/mman.h>
            #include <time.h>
            int main(void) {
                int locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
                struct sched_param p; sched_getparam(0, &p);
                cpu_set_t set; sched_getaffinity(0, sizeof set, &set);
                FILE *f = fopen("/var/log/controller.log", "a");
                fprintf(f, "controller: policy=%s prio=%d cpus=%d locked=%d\\n",
                        sched_getscheduler(0) == SCHED_FIFO ? "fifo" : "other", p.sched_priority, CPU_COUNT(&set), locked);
                fclose(f);
                for (;;) { struct timespec t = {0, 1000000}; clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL); }
            }
            """

        static let unit = """
            [Unit]
            Description=The machine's controller
            After=hv-guest.service
            [Service]
            ExecStart=/usr/local/bin/controller
            CPUSchedulingPolicy=fifo
            CPUSchedulingPriority=80
            LimitMEMLOCK=infinity
            [Install]
            WantedBy=multi-user.target

            """

        @Test func aControllerLivesInTheGuestAndEverythingPersists() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(root: .debian)
            let start = host.run("hv_guest_start", cwd: dir, timeout: 240)
            try #require(start.status == 0, "\(start.all)")
            #expect(start.out.contains("created the Debian root disk") && start.out.contains("disk.qcow2"), "\(start.out)")
            let disk = dir.appendingPathComponent("disk.qcow2")
            var st = stat()
            // root's alone, mode 0600: its QEMU (another user) has it only as the descriptors hvd passed.
            #expect(stat(disk.path, &st) == 0 && st.st_mode & 0o777 == 0o600 && st.st_uid == 0, "disk \(st.st_uid) \(String(st.st_mode, radix: 8))")
            #expect(host.openDescriptors(pid: try host.status("guestrtlinux").pid, on: disk) >= 2)

            // Reached from the host, PREEMPT_RT, the exit status passed through.
            let uname = ssh(host, ["uname", "-v"])
            #expect(uname.status == 0 && uname.out.contains("PREEMPT_RT"), "\(uname.all)")
            #expect(ssh(host, ["sh", "-c", "exit 7"]).status == 7)
            #expect(ssh(host, ["systemctl", "is-system-running"]).out.contains("running"), "no unit failed")
            let quiet = ssh(
                host, ["sh", "-c", "systemctl list-timers --no-legend | wc -l; ls /dev/vd*; findmnt -n -o FSTYPE,OPTIONS /usr/lib/modules/$(uname -r)"]
            ).out
            #expect(quiet.hasPrefix("0\n"), "no timers wake the guest: \(quiet)")
            #expect(quiet.contains("overlay"), "the kernel's modules under their overlay: \(quiet)")
            // No password logs in: hv's key only.
            #expect(ssh(host, ["sshd", "-T"]).out.contains("passwordauthentication no"))

            // A program built here, copied in and started by a unit, SCHED_FIFO with its memory locked.
            let work = host.root.appendingPathComponent("controller")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try Self.controller.write(to: work.appendingPathComponent("controller.c"), atomically: true, encoding: .utf8)
            try Self.unit.write(to: work.appendingPathComponent("controller.service"), atomically: true, encoding: .utf8)
            let cc = Process()
            cc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
            cc.arguments = ["-O2", "-o", work.appendingPathComponent("controller").path, work.appendingPathComponent("controller.c").path]
            try cc.run()
            cc.waitUntilExit()
            try #require(cc.terminationStatus == 0)
            #expect(
                host.run("hv", ["guest", "copy", "guestrtlinux", work.appendingPathComponent("controller").path, "guest:/usr/local/bin/controller"]).status == 0
            )
            #expect(
                host.run("hv", ["guest", "copy", "guestrtlinux", work.appendingPathComponent("controller.service").path, "guest:/etc/systemd/system/"]).status
                    == 0)
            #expect(ssh(host, ["systemctl", "enable", "controller.service"]).status == 0)
            #expect(ssh(host, ["sh", "-c", "echo kept > /root/mine.txt && sync"]).status == 0)
            // A file out, too.
            let back = work.appendingPathComponent("hostname")
            #expect(host.run("hv", ["guest", "copy", "guestrtlinux", "guest:/etc/hostname", back.path]).status == 0)
            #expect(host.text(back) == "guestrtlinux\n")

            // Packages: the guest's own apt, through the host's proxy (approx, per connection), and no other way out.
            let added = host.run("hv", ["guest", "packages", "guestrtlinux", "add", "hello"], timeout: 600)
            #expect(added.status == 0 && ssh(host, ["hello"]).out.contains("Hello, world!"), "\(added.all.suffix(1500))")
            let cached = FileManager.default.enumerator(atPath: "/var/cache/hv/approx/debian/pool/main/h/hello")?.allObjects as? [String] ?? []
            #expect(cached.contains { $0.hasSuffix(".deb") }, "the package came through the host's cache: \(cached)")
            let unknown = host.run("hv", ["guest", "packages", "guestrtlinux", "add", "no-such-package-hv"], timeout: 300)
            #expect(unknown.status == 100 && unknown.all.contains("Unable to locate package no-such-package-hv"), "\(unknown.all.suffix(800))")
            #expect(host.run("hv", ["guest", "packages", "guestrtlinux", "add", "bad;name"]).status != 0)
            #expect(host.run("hv", ["guest", "packages", "guestrtlinux", "list", "hello"]).out.contains("hello 2."))
            // No route off the host (asked of the routing table: no packet goes anywhere).
            let route = ssh(host, ["ip", "route", "get", "1.1.1.1"])
            #expect(route.status != 0 && route.all.contains("unreachable"), "\(route.all)")

            // The clock: hvd's own measurement, within 1 ms of the host's.
            #expect(
                host.waitUntil(60) { (try? host.status("guestrtlinux").clock).flatMap { $0 }.map { abs($0.offsetSeconds) < 0.001 } ?? false },
                "\(String(describing: try? host.status("guestrtlinux").clock))")
            #expect(try host.status("guestrtlinux").root == "debian")

            // Stop and start: the controller runs from boot, the file is there.
            #expect(host.run("hv_guest_stop", cwd: dir).out.contains("gracefully"))
            try #require(host.run("hv_guest_start", cwd: dir, timeout: 240).status == 0)
            let after = ssh(host, ["sh", "-c", "cat /root/mine.txt; systemctl is-active controller; cat /var/log/controller.log"]).out
            #expect(after.contains("kept") && after.contains("\nactive\n"), "\(after)")
            #expect(after.contains("controller: policy=fifo prio=80 cpus=1 locked=1"), "\(after)")

            // hvd killed: the guest and its controller run on; the new hvd still reaches it.
            let qemu = host.qemuPid("guestrtlinux")
            if let hvd = host.hvdPid { kill(hvd, SIGKILL) }
            usleep(500_000)
            #expect(ssh(host, ["systemctl", "is-active", "controller"]).out.contains("active"))
            #expect(host.qemuPid("guestrtlinux") == qemu)

            // A rebuilt template changes no disk a guest has.
            #expect(host.run("hv_guest_stop", cwd: dir).status == 0)
            let rebuild = host.run("hv", ["setup", "--skip-packages", "--rebuild-image"], timeout: 900)
            #expect(rebuild.status == 0, "\(rebuild.all)")
            let again = host.run("hv_guest_start", cwd: dir, timeout: 240)
            try #require(again.status == 0, "\(again.all)")
            #expect(!again.out.contains("created the Debian root disk"))
            #expect(ssh(host, ["cat", "/root/mine.txt"]).out.contains("kept"))
            #expect(host.run("hv_guest_stop", cwd: dir).status == 0)
        }

        /// What the busybox image does on the communication subsystem, the Debian root does too.
        @Test func sharedMemoryEventsAndTheHeartbeatWork() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare("ubuntu_rtlinux", root: .debian)
            try "[Guest\\Recovery]\n    \"Watchdog\"=\"report\"\n".write(to: dir.appendingPathComponent("usr.config"), atomically: true, encoding: .utf8)
            try #require(host.run("hv_guest_start", cwd: dir, timeout: 240).status == 0)
            #expect(host.run("hv", ["shm", "write", "shm", "0", "from-the-host"]).status == 0)
            #expect(ssh(host, ["hv-comm", "shm", "read", "shm"]).out.contains("from-the-host"))
            #expect(ssh(host, ["hv-comm", "shm", "write", "shm", "100", "from-debian"]).status == 0)
            #expect(host.run("hv", ["shm", "read", "shm", "100"]).out.contains("from-debian"))
            let waiter = host.session("hv", ["guest", "ssh", "guestrtlinux", "--", "hv-comm", "event", "wait", "ev", "60"])
            usleep(3_000_000)
            #expect(host.run("hv", ["event", "signal", "ev"]).status == 0)
            let waited = waiter.finish(timeout: 30)
            #expect(waited.status == 0 && waited.out.contains("signalled"), "\(waited.all)")
            let beat = host.folder("guestrtlinux").appendingPathComponent("exchange/.hv-heartbeat")
            let first = host.text(beat)
            #expect(host.waitUntil(10) { !host.text(beat).isEmpty && host.text(beat) != first }, "the heartbeat moves")
            #expect(host.run("hv_guest_stop", cwd: dir).status == 0)
        }
    }
}
