import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

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
            guard report.mode != .none else {
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
            let guest = try KernelGuest(host: host)
            defer { guest.stop() }
            try guest.provide([TestHost.products.appendingPathComponent("hv")])
            try guest.boot()
            let finished = try guest.run(Self.script, timeout: 240)
            try #require(finished, "the trial script did not finish: \(guest.console.suffix(1500))")
            let text = guest.result
            func report(_ name: String) throws -> PartitionTrial.Report {
                let json = text(name + ".json")
                do { return try JSONDecoder().decode(PartitionTrial.Report.self, from: Data(json.utf8)) } catch {
                    throw HVError(.io, "\(name): no report (\(error)): \(json.prefix(400)) \(guest.console.suffix(800))")
                }
            }
            // 1. The cpuset controller off at the root: hv turns it on, isolates core 1, and turns it off again.
            let fresh = try report("fresh")
            #expect(fresh.kernel.hasPrefix("6.1.") && fresh.kernel.hasSuffix("-rt-amd64"), "\(fresh.kernel)")
            #expect(fresh.mode == .cpusetV2 && fresh.rtCores == [1] && fresh.hostCores == [0])
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
            hv() { /hv/guests/lib/ld-linux-x86-64.so.2 --library-path /hv/guests/lib /hv/guests/bin/hv "$@"; }
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
    }
}
