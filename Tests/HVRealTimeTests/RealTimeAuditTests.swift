import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

@testable import HVRealTime

@Suite struct RealTimeAuditTests {
    /// A fake /proc and /sys: a tuned 4-core host with core 3 reserved.
    func tree(_ files: [String: String]) throws -> String {
        let root = "/tmp/hv-audit-\(UUID().uuidString.prefix(8))"
        for (path, text) in files {
            let url = URL(fileURLWithPath: root + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return root
    }

    let kvm = HostFacts(cpuCount: 4, cpuFlags: ["vmx"], kvmDeviceOpens: true)

    @Test func aTunedHostPasses() throws {
        let root = try tree([
            "/sys/kernel/realtime": "1\n",
            "/proc/cmdline": "BOOT_IMAGE=/vmlinuz isolcpus=domain,managed_irq,3 nohz_full=3 rcu_nocbs=2-3 quiet\n",
            "/sys/devices/system/cpu/cpu3/topology/thread_siblings_list": "3\n",
            "/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor": "performance\n",
            "/sys/devices/system/cpu/cpu3/cpuidle/state0/latency": "0\n",
            "/sys/devices/system/cpu/cpu3/cpuidle/state1/latency": "100\n",
            "/sys/devices/system/cpu/cpu3/cpuidle/state1/disable": "1\n",
            "/proc/irq/24/smp_affinity_list": "0-2\n",
            "/proc/swaps": "Filename Type Size Used Priority\n",
            "/sys/kernel/mm/transparent_hugepage/enabled": "always madvise [never]\n",
            "/proc/sys/kernel/sched_rt_runtime_us": "-1\n",
            "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
            "/sys/fs/cgroup/system.slice/cpuset.cpus": "0-2\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let items = RealTimeAudit(sysRoot: root, facts: kvm, rtCores: [3], kernelVersion: "6.1.0-rt #1 SMP PREEMPT_RT").run()
        let notOK = items.filter { $0.state != .ok }
        #expect(notOK.isEmpty, "\(notOK)")
    }

    @Test func anUntunedTCGHostSaysWhatToFix() throws {
        let root = try tree([
            "/proc/cmdline": "quiet\n",
            "/sys/devices/system/cpu/cpu1/topology/thread_siblings_list": "0-1\n",
            "/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": "powersave\n",
            "/sys/devices/system/cpu/cpu1/cpuidle/state2/latency": "80\n",
            "/sys/devices/system/cpu/cpu1/cpuidle/state2/name": "C6\n",
            "/proc/irq/24/smp_affinity_list": "0-1\n",
            "/proc/irq/25/smp_affinity_list": "0\n",
            "/proc/swaps": "Filename Type Size Used Priority\n/swapfile file 1024 0 -2\n",
            "/sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never\n",
            "/proc/sys/kernel/sched_rt_runtime_us": "950000\n",
            "/proc/stat": "cpu  10 0 10 100 0 0 0 9 0 0\ncpu0 5 0 5 50 0 0 0 2 0 0\ncpu1 5 0 5 50 0 0 0 7 0 0\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tcg = HostFacts(cpuCount: 2, cpuFlags: ["hypervisor"], kvmDeviceOpens: true)
        let items = Dictionary(
            uniqueKeysWithValues: RealTimeAudit(
                sysRoot: root, facts: tcg, rtCores: [1],
                kernelVersion: "6.1.0 #1 SMP PREEMPT_DYNAMIC"
            ).run().map { ($0.id, $0) })
        #expect(items["accelerator"]?.state == .critical)
        #expect(items["accelerator"]?.detail.contains("cannot give real-time guarantees") == true)
        for id in ["preemption", "virtual-host", "isolcpus", "nohz_full", "rcu_nocbs", "smt", "governor", "idle", "irq", "cpuset", "swap", "thp"] {
            #expect(items[id]?.state == .warn, "\(id): \(String(describing: items[id]))")
            #expect(items[id]?.fix.isEmpty == false, "\(id) has no fix")
        }
        #expect(items["isolcpus"]?.fix.contains("isolcpus=1") == true)
        #expect(items["irq"]?.detail.contains("1 interrupt may be delivered to core 1 (IRQ 24)") == true)
        #expect(items["rt-throttling"]?.state == .info)
        // 7 ticks of steal on the RT core, in milliseconds at this machine's tick rate.
        let tick = 1000 / Int(sysconf(Int32(_SC_CLK_TCK)))
        #expect(items["virtual-host"]?.detail.contains("\(7 * tick) ms taken from core 1") == true, "\(String(describing: items["virtual-host"]))")
    }

    @Test func cpusetSaysWhichInterfaceAndWhoClaimsTheRTCore() throws {
        func item(_ files: [String: String]) throws -> AuditItem? {
            let root = try tree(files)
            defer { try? FileManager.default.removeItem(atPath: root) }
            return RealTimeAudit(sysRoot: root, facts: kvm, rtCores: [3], kernelVersion: "6.1.0-rt").run().first { $0.id == "cpuset" }
        }
        let v1 = try item(["/sys/fs/cgroup/cpuset/tasks": "1\n"])
        #expect(v1?.state == .ok && v1?.detail.contains("cgroup v1") == true)
        // systemd's AllowedCPUs= on a slice writes its cpuset.cpus: the kernel would refuse the partition.
        let claimed = try item([
            "/sys/fs/cgroup/cgroup.controllers": "cpuset memory\n",
            "/sys/fs/cgroup/system.slice/cpuset.cpus": "0-3\n",
            "/sys/fs/cgroup/user.slice/cpuset.cpus": "\n",
        ])
        #expect(claimed?.state == .warn && claimed?.detail.contains("system.slice (0-3) claims core 3") == true, "\(String(describing: claimed))")
        #expect(claimed?.detail.contains("user.slice") == false)
        #expect(claimed?.fix.contains("AllowedCPUs=") == true)
        let bound = try item(["/sys/fs/cgroup/unified/cgroup.controllers": "hugetlb\n"])
        #expect(bound?.state == .warn && bound?.detail.contains("no cpuset controller") == true, "\(String(describing: bound))")
    }

    @Test func cpuListsParse() {
        #expect(CPUList.parse("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11])
        #expect(CPUList.parse("x") == nil)
        #expect(CPUList.parse("3-1") == nil)
        #expect(CPUList.format([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10,11")
        #expect(CPUList.format([5]) == "5" && CPUList.format([]) == "")
        #expect(CPUList.parse(CPUList.format([0, 2, 3, 4, 9])) == [0, 2, 3, 4, 9])
        // Typed by a user (--cores): malformed ranges are refused, not trapped on.
        #expect(CPUList.parse("1,-") == nil)
        #expect(CPUList.parse("1-") == nil)
        #expect(CPUList.parse("1-2-3") == nil)
    }
}
