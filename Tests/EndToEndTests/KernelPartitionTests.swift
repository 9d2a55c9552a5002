import Foundation
import Testing
import HVCore
import HVEngine

extension EndToEnd {
    /// hv's partition code on real kernels: this host's (whatever cgroup
    /// layout it has) and, for cgroup v2, Debian's 6.1 PREEMPT_RT kernel in
    /// an RT-Linux guest with two vCPUs: the layout of a Debian 12 host,
    /// which this machine (cpuset bound to cgroup v1) cannot switch to.
    @Suite struct KernelPartition {
        @Test func trialOnThisHostHoldsAndGivesTheCoreBack() throws {
            try #require(ProcessInfo.processInfo.activeProcessorCount > 1, "needs two cores")
            let host = try TestHost()
            defer { host.cleanup() }
            let r = host.run("hv", ["rt", "try-partition", "--json"])
            let report = try JSONDecoder().decode(PartitionTrial.Report.self, from: Data(r.out.utf8))
            guard report.mode != "none" else {
                // A host without cpusets must say so and fail the trial, not pass it.
                #expect(r.status == 1 && !report.passed && report.notes.contains { $0.contains("cpuset") }, "\(r.all)")
                return
            }
            #expect(r.status == 0 && report.passed, "\(r.all)")
            #expect(report.checks.map(\.name) == ["partition", "host-process", "interrupts", "vcpu-thread", "released"])
            // Loaded, the VMF's partition is not for a trial to undo.
            _ = try host.prepare()
            let refused = host.run("hv", ["rt", "try-partition"])
            #expect(refused.status == 5 && refused.err.contains("the VMF is loaded"), "\(refused.all)")
        }

        @Test func cgroupV2PartitionOnTheRTLinuxKernel() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let share = host.root.appendingPathComponent("share")
            try copyHV(to: share.appendingPathComponent("lib"))
            try Self.script.write(to: share.appendingPathComponent("trial.sh"), atomically: true, encoding: .utf8)
            let results = share.appendingPathComponent("results")
            let template = HostLayout(root: TestHost.imageRoot).template("rt-linux")
            // The boot line hv uses under TCG (tsc_early_khz: microvm's TSC calibration can hang without it).
            let tsc = HostFacts.probe().tscKHz.map { " tsc_early_khz=\($0)" } ?? ""
            let qemu = Session(bin: URL(fileURLWithPath: "/usr/bin"), root: host.root, "qemu-system-x86_64", [
                "-nodefaults", "-no-user-config", "-no-reboot", "-machine", "microvm", "-accel", "tcg",
                "-cpu", "qemu64,+arat", "-smp", "2", "-m", "256M",
                "-kernel", template.appendingPathComponent("vmlinux").path,
                "-initrd", template.appendingPathComponent("initramfs.cpio").path,
                "-append", "console=ttyS0 panic=5 quiet cryptomgr.notests pci=off tsc=reliable" + tsc,
                "-serial", "stdio", "-display", "none",
                "-fsdev", "local,id=hvguests,path=\(share.path),security_model=none",
                "-device", "virtio-9p-device,fsdev=hvguests,mount_tag=hvguests",
            ], cwd: nil)
            defer { _ = qemu.finish(timeout: 30) }
            try #require(qemu.waitFor("hv-guest: ready", timeout: 120), "the guest did not boot: \(qemu.output.suffix(800))")
            #expect(qemu.output.contains("2 CPU"))
            qemu.send("sh /hv/guests/trial.sh\n")
            let finished = host.waitUntil(240) { FileManager.default.fileExists(atPath: results.appendingPathComponent("done").path) }
            qemu.send("poweroff -f\n")
            try #require(finished, "the trial script did not finish: \(qemu.output.suffix(1500))")
            func text(_ name: String) -> String {
                host.text(results.appendingPathComponent(name)).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            func report(_ name: String) throws -> PartitionTrial.Report {
                let json = text(name + ".json")
                do { return try JSONDecoder().decode(PartitionTrial.Report.self, from: Data(json.utf8)) } catch {
                    throw HVError(.io, "\(name): no report (\(error)): \(json.prefix(400)) \(qemu.output.suffix(800))")
                }
            }
            // 1. The cpuset controller off at the root: hv turns it on, isolates core 1, and turns it off again.
            let fresh = try report("fresh")
            #expect(fresh.kernel.hasPrefix("6.1.") && fresh.kernel.hasSuffix("-rt-amd64"), "\(fresh.kernel)")
            #expect(fresh.mode == "cpuset-v2" && fresh.rtCores == [1] && fresh.hostCores == [0])
            #expect(text("fresh.rc") == "0" && fresh.passed, "\(fresh.checks) \(fresh.notes)")
            #expect(fresh.checks.first { $0.name == "partition" }?.detail.contains("\"isolated\"") == true, "\(fresh.checks)")
            #expect(text("fresh.controllers").isEmpty, "hv left the cpuset controller on: \(text("fresh.controllers"))")
            // 2. As systemd leaves it: cpuset on at the root, hv started from a slice.
            let systemd = try report("systemd")
            #expect(text("systemd.rc") == "0" && systemd.passed, "\(systemd.checks) \(systemd.notes)")
            #expect(text("systemd.controllers") == "cpuset", "hv turned off a controller it had not turned on")
            // 3. A slice claims the RT core (systemd's AllowedCPUs=): the kernel refuses, hv says why and who, and changes nothing.
            let claimed = try report("claimed")
            #expect(text("claimed.rc") == "1" && !claimed.passed)
            #expect(claimed.checks.first { $0.name == "partition" }?.ok == false)
            #expect(claimed.checks.first { $0.name == "host-process" }?.ok == false, "the claimed core is not kept from host processes")
            #expect(claimed.notes.contains { $0.contains("not exclusive") || $0.contains("refused core 1") }, "\(claimed.notes)")
            #expect(claimed.notes.contains { $0.contains("system.slice claims core 1") && $0.contains("AllowedCPUs=") }, "\(claimed.notes)")
            #expect(claimed.checks.first { $0.name == "released" }?.ok == true, "\(claimed.checks)")
            #expect(!text("claimed.groups").contains("hv-"), "a group was left behind: \(text("claimed.groups"))")
        }

        /// Runs in the guest: hv from the shared folder (with the host's
        /// libraries), once per cgroup layout, results written back to the host.
        static let script = """
            out=/hv/guests/results
            mkdir -p $out /sys/fs/cgroup
            mount -t cgroup2 none /sys/fs/cgroup
            export HV_ROOT=/tmp/hvroot
            hv() { /hv/guests/lib/ld-linux-x86-64.so.2 --library-path /hv/guests/lib /hv/guests/lib/hv "$@"; }
            cg=/sys/fs/cgroup
            hv rt try-partition --json > $out/fresh.json; echo $? > $out/fresh.rc
            cat $cg/cgroup.subtree_control > $out/fresh.controllers
            echo +cpuset > $cg/cgroup.subtree_control; mkdir $cg/system.slice; echo $$ > $cg/system.slice/cgroup.procs
            hv rt try-partition --json > $out/systemd.json; echo $? > $out/systemd.rc
            cat $cg/cgroup.subtree_control > $out/systemd.controllers
            echo 0-1 > $cg/system.slice/cpuset.cpus
            hv rt try-partition --json > $out/claimed.json; echo $? > $out/claimed.rc
            ls $cg > $out/claimed.groups
            echo done > $out/done

            """

        /// The built hv and every library it loads, with the host's dynamic
        /// loader: the guest's initramfs has only what cyclictest needs.
        func copyHV(to lib: URL) throws {
            let fm = FileManager.default
            try fm.createDirectory(at: lib, withIntermediateDirectories: true)
            let hv = TestHost.products.appendingPathComponent("hv").resolvingSymlinksInPath()
            try fm.copyItem(at: hv, to: lib.appendingPathComponent("hv"))
            let ldd = Process()
            ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
            ldd.arguments = [hv.path]
            let out = Pipe()
            ldd.standardOutput = out
            try ldd.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            ldd.waitUntilExit()
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"
            let paths = text.split(separator: "\n").compactMap { line -> String? in
                let words = line.split { $0 == " " || $0 == "\t" }
                if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count { return String(words[arrow + 1]) }
                return words.first.map(String.init).flatMap { $0.hasPrefix("/") ? $0 : nil }
            }
            try #require(paths.contains { $0.hasSuffix("/ld-linux-x86-64.so.2") }, "ldd: \(text)")
            for path in paths {
                let src = URL(fileURLWithPath: path).resolvingSymlinksInPath()
                try fm.copyItem(at: src, to: lib.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent))
            }
        }
    }
}
