import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    /// The whole VMF path on cgroup v2, on a real kernel: hv, hvd and QEMU run
    /// inside the RT-Linux guest (Debian's 6.1 PREEMPT_RT kernel, two vCPUs,
    /// cgroup v2 as on a Debian 12 host); hv_vmf_start partitions core 1, hvd
    /// starts the RT-Linux example under TCG there and places its vCPU thread,
    /// hv_vmf_stop gives the core back.
    @Suite struct CgroupV2VMF {
        @Test func vmfPartitionsCoreOneAndPlacesARealVCPU() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let guest = try KernelGuest(host: host)
            defer { guest.stop() }
            try provision(guest)
            // RemainingHostMemoryMiB (2048) + the RT-Linux guest + what the copies take.
            try guest.boot(memory: "3584M")
            let finished = try guest.run(Self.script, timeout: 420)
            try #require(finished, "the script did not finish: \(guest.console.suffix(2000))")
            let r = guest.result

            #expect(r("load.rc") == "0" && r("load.txt").contains("reserved core 1"), "\(r("load.txt"))")
            #expect(r("load.txt").contains("core 1 taken from the host as an isolated cgroup v2 partition"), "\(r("load.txt"))")
            #expect(r("partition.txt") == "isolated", "\(r("partition.txt"))")
            #expect(r("root-cpus.txt") == "0", "the root cgroup keeps core 1: \(r("root-cpus.txt"))")
            #expect(r("busy.txt").hasSuffix("\t0"), "a host process may run on the RT core: \(r("busy.txt"))")
            let list = try JSONDecoder().decode([GuestStatus].self, from: Data(r("list.json").utf8))
            let g = try #require(list.first, "\(r("list.json")) \(r("start.txt"))")
            let vcpu = try #require(g.vcpuPlacement.first, "no vCPU placement read back: \(r("start.txt")) \(r("list.json").prefix(600))")
            #expect(vcpu.cores == [1] && vcpu.policy == "fifo", "\(vcpu)")
            // This guest has busybox's ip (no netns): the VMF network's absence is said, and the guest starts without it.
            let (network, placement) = (g.notes.filter { $0.hasPrefix("not on the VMF network") }, g.notes.filter { !$0.hasPrefix("not on the VMF network") })
            #expect(network.count == 1 && network[0].contains("ip netns add") && !network[0].contains("\n"), "\(network)")
            #expect(!placement.contains { $0.contains("could not") }, "\(placement)")
            #expect(
                g.emulatorPlacement.map { $0.cores == [0] && $0.policy == "fifo" && $0.priority == vcpu.priority - 1 } == true,
                "\(String(describing: g.emulatorPlacement))")
            // The kernel's view: the vCPU thread is in hv's partition, QEMU's process in the root cgroup (the thread root).
            #expect(r("rt-threads.txt").split(separator: "\n").contains(Substring(String(vcpu.thread))), "\(r("rt-threads.txt")) vs \(vcpu.thread)")
            #expect(r("vcpu-cgroup.txt").hasPrefix("0::/hv-") && r("vcpu-cgroup.txt").hasSuffix("-rt"), "\(r("vcpu-cgroup.txt"))")
            #expect(r("qemu-cgroup.txt") == "0::/", "\(r("qemu-cgroup.txt"))")

            #expect(r("unload.rc") == "0" && r("unload.txt").contains("belong to the host again"), "\(r("unload.txt"))")
            #expect(r("busy-after.txt").hasSuffix("\t0-1"), "\(r("busy-after.txt"))")
            #expect(!r("groups-after.txt").contains("hv-"), "left behind: \(r("groups-after.txt"))")
            #expect(r("controllers-after.txt").isEmpty, "hv left the cpuset controller on: \(r("controllers-after.txt"))")
        }

        /// A 2-core RT guest on a 4-CPU kernel: two reserved cores, one SCHED_FIFO
        /// vCPU on each, read back from the kernel; then Cores=4 is more than
        /// the host can give: refused with the numbers, nothing changed.
        @Test func aTwoCoreRTGuestGetsACorePerVCPU() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let guest = try KernelGuest(host: host)
            defer { guest.stop() }
            try provision(guest)
            try guest.boot(memory: "3584M", cpus: 4)
            let finished = try guest.run(Self.setup + Self.multiCore, timeout: 420)
            try #require(finished, "the script did not finish: \(guest.console.suffix(2000))")
            let r = guest.result

            #expect(r("load.rc") == "0" && r("load.txt").contains("reserved cores 3,2"), "\(r("load.txt"))")
            let list = try JSONDecoder().decode([GuestStatus].self, from: Data(r("list.json").utf8))
            let g = try #require(list.first, "\(r("list.json")) \(r("start.txt"))")
            #expect(g.vcpus == 2)
            #expect(g.vcpuPlacement.count == 2, "\(g.vcpuPlacement) \(r("start.txt"))")
            #expect(Set(g.vcpuPlacement.map(\.cores)) == [[3], [2]], "one vCPU on each reserved core: \(g.vcpuPlacement)")
            #expect(g.vcpuPlacement.allSatisfy { $0.policy == "fifo" }, "\(g.vcpuPlacement)")
            // The kernel's own view of each vCPU thread: its allowed CPU and its policy (1 = SCHED_FIFO).
            let threads = r("vcpu-threads.txt").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(Set(threads.compactMap { $0.count == 3 && $0[2] == "1" ? $0[1] : nil }) == ["2", "3"], "\(r("vcpu-threads.txt"))")
            #expect(r("rt-cpus.txt") == "2-3", "the RT partition holds both cores: \(r("rt-cpus.txt"))")

            #expect(r("unload.rc") == "0", "\(r("unload.txt"))")
            #expect(
                r("toomany.rc") != "0" && r("toomany.txt").contains("wants 4 reserved cores (Cores=4), and the host can give 3 more"),
                "\(r("toomany.txt"))")
            #expect(r("status-after.txt").contains("\"loaded\" : false"), "\(r("status-after.txt"))")
            #expect(r("root-cpus-after.txt") == "0-3", "nothing changed: \(r("root-cpus-after.txt"))")
            #expect(!r("groups-after.txt").contains("hv-"), "left behind: \(r("groups-after.txt"))")
        }

        /// hv, hvd, QEMU, bash and the RT-Linux template, copied into the kernel guest's share.
        func provision(_ guest: KernelGuest) throws {
            let modules = URL(fileURLWithPath: "/usr/lib/x86_64-linux-gnu/qemu")
            let moduleFiles = ((try? FileManager.default.contentsOfDirectory(at: modules, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.pathExtension == "so" }
            try guest.provide(
                [
                    TestHost.products.appendingPathComponent("hv"), TestHost.products.appendingPathComponent("hvd"),
                    URL(fileURLWithPath: "/usr/bin/qemu-system-x86_64"), URL(fileURLWithPath: "/bin/bash"),
                ],
                alsoLibsOf: moduleFiles)
            // QEMU finds its firmware beside its binary (../share/qemu) and its accelerator modules by QEMU_MODULE_DIR.
            try copyResolved(URL(fileURLWithPath: "/usr/share/qemu"), to: guest.share.appendingPathComponent("share/qemu"))
            try copyResolved(modules, to: guest.share.appendingPathComponent("qemu-modules"))
            let template = guest.share.appendingPathComponent("template")
            try copyResolved(HostLayout(root: TestHost.imageRoot).template("rt-linux"), to: template)
            // The Debian root's template and modules (a GiB) are not booted in here.
            let files = RTLinuxImageFiles(dir: template)
            for big in [files.debianRoot, files.modules] { try? FileManager.default.removeItem(at: big) }
        }

        /// cp -rL: Debian's /usr/share/qemu links into other packages the guest does not have.
        func copyResolved(_ from: URL, to: URL) throws {
            try FileManager.default.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            let cp = Process()
            cp.executableURL = URL(fileURLWithPath: "/bin/cp")
            cp.arguments = ["-rL", from.path + "/.", to.path]
            try FileManager.default.createDirectory(at: to, withIntermediateDirectories: true)
            try cp.run()
            cp.waitUntilExit()
            try #require(cp.terminationStatus == 0, "cp -rL \(from.path) failed")
        }

        /// In the guest: local copies first (9p here has no page cache, and
        /// QEMU pages in the kernel it boots), then the seed's own commands.
        static let setup =
            environment + """
                hv_open_example rt-linux --yes > $out/open.txt 2>&1; hv_sync_example rt-linux >> $out/open.txt 2>&1
                cd /root/hv/guests/guestrtlinux
                # The busybox image in here (the tests write usr.config themselves): the Debian root is tested outside.
                sed -i 's/"Root"="debian"/"Root"="busybox"/' guest.config

                """

        /// hv's programs and libraries where a Debian host has them, HV_ROOT=/root/hv with the RT-Linux image.
        static let environment = """
            out=/hv/guests/results; mkdir -p $out
            mkdir -p /sys/fs/cgroup; mount -t cgroup2 none /sys/fs/cgroup; cg=/sys/fs/cgroup
            mkdir -p /opt/hv; cp -a /hv/guests/bin /hv/guests/lib /hv/guests/share /hv/guests/qemu-modules /hv/guests/template /opt/hv/
            for n in hv_open_example hv_sync_example hv_vmf_start hv_vmf_stop; do ln -s hv /opt/hv/bin/$n; done
            # hvd starts QEMU with a clean environment (no LD_LIBRARY_PATH, no QEMU_MODULE_DIR): the
            # libraries go where the loader looks by itself, the modules where Debian's (relocatable)
            # QEMU looks beside its binary (../lib/x86_64-linux-gnu/qemu).
            mkdir -p /usr/lib/x86_64-linux-gnu /opt/hv/lib/x86_64-linux-gnu/qemu
            for f in /opt/hv/lib/*; do [ -e /usr/lib/x86_64-linux-gnu/${f##*/} ] || cp -a $f /usr/lib/x86_64-linux-gnu/; done
            cp -a /opt/hv/qemu-modules/. /opt/hv/lib/x86_64-linux-gnu/qemu/
            # Scripts run with a fixed PATH: bash where a Debian host has it.
            [ -e /bin/bash ] || ln -s /opt/hv/bin/bash /bin/bash
            # QEMU runs as the guest's own user: it must be able to pass through to HV_ROOT.
            chmod 755 /root
            export QEMU_MODULE_DIR=/opt/hv/qemu-modules LD_LIBRARY_PATH=/opt/hv/lib PATH=/opt/hv/bin:$PATH HV_ROOT=/root/hv
            mkdir -p /root/hv/templates; ln -s /opt/hv/template /root/hv/templates/rt-linux

            """

        /// The cgroup v2 path with the example as it is (one vCPU).
        static let script =
            setup + """
                hv_vmf_start > $out/load.txt 2>&1; echo $? > $out/load.rc
                cat $cg/cpuset.cpus.effective > $out/root-cpus.txt
                cat $cg/hv-*-rt/cpuset.cpus.partition > $out/partition.txt 2>&1
                sh -c 'while :; do :; done' & busy=$!
                sleep 1; grep Cpus_allowed_list /proc/$busy/status > $out/busy.txt; kill $busy
                (hv guest start guestrtlinux > $out/start.txt 2>&1 || cat /root/hv/run/guestrtlinux/qemu.log >> $out/start.txt 2>&1) &
                i=0; while [ $i -lt 180 ]; do
                    hv guest list --json > $out/list.json 2>&1
                    grep -q '"policy"' $out/list.json && break
                    sleep 1; i=$((i+1))
                done
                cat $cg/hv-*-rt/cgroup.threads > $out/rt-threads.txt 2>&1
                pid=$(cat /root/hv/run/guestrtlinux/qemu/qemu.pid)
                cat /proc/$pid/cgroup > $out/qemu-cgroup.txt
                for t in $(cat $cg/hv-*-rt/cgroup.threads); do cat /proc/$pid/task/$t/cgroup > $out/vcpu-cgroup.txt; done
                hv_vmf_stop --yes > $out/unload.txt 2>&1; echo $? > $out/unload.rc
                sh -c 'grep Cpus_allowed_list /proc/self/status' > $out/busy-after.txt
                ls $cg > $out/groups-after.txt
                cat $cg/cgroup.subtree_control > $out/controllers-after.txt
                echo done > $out/done

                """

        /// Cores=2: two reserved cores; then Cores=4, more than the host can give.
        static let multiCore = """
            printf '[Guest\\\\Cpu]\\n    "Cores"="2"\\n[Guest\\\\Share]\\n    "GuestsFolder"="no"\\n' > usr.config
            hv_vmf_start > $out/load.txt 2>&1; echo $? > $out/load.rc
            cat $cg/hv-*-rt/cpuset.cpus.effective > $out/rt-cpus.txt 2>&1
            (hv guest start guestrtlinux > $out/start.txt 2>&1 || cat /root/hv/run/guestrtlinux/qemu.log >> $out/start.txt 2>&1) &
            i=0; while [ $i -lt 180 ]; do
                hv guest list --json > $out/list.json 2>&1
                [ "$(grep -o '"policy"' $out/list.json | wc -l)" -ge 3 ] && break
                sleep 1; i=$((i+1))
            done
            pid=$(cat /root/hv/run/guestrtlinux/qemu/qemu.pid)
            : > $out/vcpu-threads.txt
            for t in $(cat $cg/hv-*-rt/cgroup.threads); do
                allowed=$(grep Cpus_allowed_list /proc/$pid/task/$t/status | awk '{print $2}')
                # The policy is the 41st field of stat, counted after the name (which has spaces: "CPU 0/TCG").
                policy=$(sed 's/.*) //' /proc/$pid/task/$t/stat | awk '{print $39}')
                echo "$t $allowed $policy" >> $out/vcpu-threads.txt
            done
            hv_vmf_stop --yes > $out/unload.txt 2>&1; echo $? > $out/unload.rc
            printf '[Guest\\\\Cpu]\\n    "Cores"="4"\\n[Guest\\\\Share]\\n    "GuestsFolder"="no"\\n' > usr.config
            hv_vmf_start > $out/toomany.txt 2>&1; echo $? > $out/toomany.rc
            hv vmf status > $out/status-after.txt 2>&1
            cat $cg/cpuset.cpus.effective > $out/root-cpus-after.txt
            ls $cg > $out/groups-after.txt
            echo done > $out/done

            """
    }
}
