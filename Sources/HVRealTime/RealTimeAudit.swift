import Foundation
import HVAPI
import HVCore
import HVHost

/// `hv rt check`: the host's fitness for real-time guests, item by item, each
/// with its state and how to fix it. Reads /proc and /sys below `sysRoot`
/// (a fake tree in tests).
public struct RealTimeAudit: Sendable {
    public var sysRoot: String
    public var facts: HostFacts
    /// The cores RTOS guests reserve (from the loaded VMF, else the default: the last core).
    public var rtCores: [Int]
    public var kernelVersion: String

    public init(sysRoot: String = "", facts: HostFacts, rtCores: [Int], kernelVersion: String) {
        self.sysRoot = sysRoot
        self.facts = facts
        self.rtCores = rtCores
        self.kernelVersion = kernelVersion
    }

    func read(_ path: String) -> String? { SysFS(root: sysRoot).text(path) }
    func list(_ path: String) -> [String] { SysFS(root: sysRoot).entries(path) }

    var cores: String { rtCores.map(String.init).joined(separator: ",") }

    public func run() -> [AuditItem] {
        [
            preemption(), accelerator(), virtualHost(), isolation("isolcpus", "isolated from the scheduler"),
            isolation("nohz_full", "free of the scheduler tick"), isolation("rcu_nocbs", "free of RCU callbacks"),
            smt(), governor(), idle(), interrupts(), cpuset(), swap(), hugepages(), rtThrottling(),
        ]
    }

    func preemption() -> AuditItem {
        let title = "kernel preemption model"
        if read("/sys/kernel/realtime") == "1" || kernelVersion.contains("PREEMPT_RT") {
            return AuditItem("preemption", title, .ok, "PREEMPT_RT kernel (\(kernelVersion))")
        }
        let model =
            kernelVersion.contains("PREEMPT_DYNAMIC")
            ? "PREEMPT_DYNAMIC"
            : kernelVersion.contains("PREEMPT") ? "PREEMPT" : "no forced preemption"
        return AuditItem(
            "preemption", title, .warn, "\(model) (\(kernelVersion)): host threads can delay the RT guest's vCPU",
            fix: "boot Debian's PREEMPT_RT kernel: apt-get install linux-image-rt-amd64, then reboot")
    }

    func accelerator() -> AuditItem {
        let title = "accelerator"
        if facts.kvmDeviceOpens && facts.hasHardwareVirtualization {
            return AuditItem("accelerator", title, .ok, "KVM with hardware virtualisation (vmx/svm)")
        }
        return AuditItem(
            "accelerator", title, .critical,
            "TCG (software emulation): guests run, but TCG cannot give real-time guarantees; latencies are milliseconds, not microseconds",
            fix: facts.kvmDeviceOpens
                ? "use a machine whose CPU shows vmx or svm (this /dev/kvm is a nested paravirtual KVM)"
                : "enable virtualisation (VT-x/AMD-V) in the firmware and load kvm_intel or kvm_amd")
    }

    /// A host that is itself a virtual machine can be paused by its own
    /// hypervisor at any moment (steal time): no placement inside it helps.
    func virtualHost() -> AuditItem {
        let title = "bare metal"
        guard facts.cpuFlags.contains("hypervisor") else {
            return AuditItem("virtual-host", title, .ok, "this host is not a virtual machine")
        }
        let stolen = CPUSteal.sample(stat: sysRoot + "/proc/stat")
        let onRT = rtCores.compactMap { stolen[$0] }.reduce(0, +)
        return AuditItem(
            "virtual-host", title, .warn,
            "this host is itself a virtual machine: its hypervisor can pause any core (\(onRT) ms taken from core \(cores) since boot)",
            fix: "run hv on bare metal, or have the outer hypervisor pin this machine's vCPUs to dedicated, isolated physical cores")
    }

    func cmdlineCPUs(_ key: String) -> Set<Int>? {
        guard let cmdline = read("/proc/cmdline") else { return nil }
        for word in cmdline.split(separator: " ") where word.hasPrefix(key + "=") {
            // isolcpus may carry flags first: isolcpus=domain,managed_irq,2-3
            let value = word.dropFirst(key.count + 1).split(separator: ",").filter { $0.first?.isNumber == true }
            return CPUList.parse(value.joined(separator: ","))
        }
        return nil
    }

    func isolation(_ key: String, _ what: String) -> AuditItem {
        let title = "\(key) for the RT cores"
        guard !rtCores.isEmpty else { return AuditItem(key, title, .info, "no RT core is reserved") }
        let set = cmdlineCPUs(key) ?? []
        let missing = rtCores.filter { !set.contains($0) }
        if missing.isEmpty { return AuditItem(key, title, .ok, "core \(cores) \(what)") }
        return AuditItem(
            key, title, .warn,
            "core \(missing.map(String.init).joined(separator: ",")) not \(what) (\(key) \(set.isEmpty ? "not set" : "= \(CPUList.format(set))"))",
            fix: "add \(key)=\(cores) to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub, reboot")
    }

    func smt() -> AuditItem {
        let title = "SMT siblings of the RT cores"
        var shared: [String] = []
        for c in rtCores {
            guard let s = read("/sys/devices/system/cpu/cpu\(c)/topology/thread_siblings_list"),
                let sib = CPUList.parse(s)
            else { continue }
            let others = sib.subtracting(rtCores).sorted()
            if !others.isEmpty { shared.append("core \(c) shares its physical core with \(others.map(String.init).joined(separator: ","))") }
        }
        let topology = HostFacts.topology(cpus: facts.cpuCount, sysRoot: sysRoot)
        let layout = topology.hasSMT ? "SMT on; physical cores: \(topology.description)" : "no SMT: \(facts.cpuCount) CPUs, each a core of its own"
        if shared.isEmpty {
            return AuditItem("smt", title, .ok, layout + "; " + (rtCores.isEmpty ? "no RT core reserved" : "no RT core shares a physical core with the host"))
        }
        return AuditItem(
            "smt", title, .warn, layout + "; " + shared.joined(separator: "; "),
            fix: "reserve both siblings, or switch SMT off: echo off > /sys/devices/system/cpu/smt/control (or nosmt on the kernel command line)")
    }

    func governor() -> AuditItem {
        let title = "CPU frequency governor"
        let govs = rtCores.compactMap { read("/sys/devices/system/cpu/cpu\($0)/cpufreq/scaling_governor") }
        if govs.isEmpty { return AuditItem("governor", title, .info, "no cpufreq on this host (fixed frequency, or a virtual machine)") }
        if govs.allSatisfy({ $0 == "performance" }) { return AuditItem("governor", title, .ok, "performance on the RT cores") }
        return AuditItem(
            "governor", title, .warn, "RT cores run the \(Set(govs).sorted().joined(separator: ", ")) governor: frequency changes add latency",
            fix:
                "for c in \(rtCores.map(String.init).joined(separator: " ")); do echo performance > /sys/devices/system/cpu/cpu$c/cpufreq/scaling_governor; done"
        )
    }

    func idle() -> AuditItem {
        let title = "CPU idle states"
        var deep: [String] = []
        for c in rtCores {
            let base = "/sys/devices/system/cpu/cpu\(c)/cpuidle"
            for s in list(base) where s.hasPrefix("state") {
                let latency = Int(read("\(base)/\(s)/latency") ?? "0") ?? 0
                let disabled = read("\(base)/\(s)/disable") == "1"
                if latency > 10 && !disabled { deep.append("cpu\(c) \(read("\(base)/\(s)/name") ?? s) (\(latency) µs exit)") }
            }
        }
        if list("/sys/devices/system/cpu/cpu\(rtCores.first ?? 0)/cpuidle").isEmpty {
            return AuditItem("idle", title, .info, "no cpuidle states exposed on this host")
        }
        if deep.isEmpty { return AuditItem("idle", title, .ok, "no deep idle state enabled on the RT cores") }
        return AuditItem(
            "idle", title, .warn, "deep idle states enabled: " + deep.joined(separator: ", "),
            fix: "disable them: cpupower -c \(cores) idle-set -D 10 (or processor.max_cstate=1 on the kernel command line)")
    }

    func interrupts() -> AuditItem {
        let title = "interrupt affinity"
        guard !rtCores.isEmpty else { return AuditItem("irq", title, .info, "no RT core reserved") }
        var onRT: [String] = []
        for irq in list("/proc/irq") where irq.allSatisfy(\.isNumber) {
            guard let l = read("/proc/irq/\(irq)/smp_affinity_list"), let set = CPUList.parse(l) else { continue }
            // An IRQ that may only go to RT cores cannot be moved; one that may go anywhere should not go there.
            if !set.isDisjoint(with: rtCores) { onRT.append(irq) }
        }
        if onRT.isEmpty { return AuditItem("irq", title, .ok, "no interrupt may be delivered to core \(cores)") }
        return AuditItem(
            "irq", title, .warn,
            "\(onRT.count) interrupt\(onRT.count == 1 ? "" : "s") may be delivered to core \(cores) (IRQ \(onRT.prefix(12).joined(separator: " "))\(onRT.count > 12 ? " …" : ""))",
            fix: "hv_vmf_start moves them off where the host permits; also set IRQBALANCE_BANNED_CPULIST=\(cores) for irqbalance")
    }

    func swap() -> AuditItem {
        let title = "swap"
        let lines = (read("/proc/swaps") ?? "").split(separator: "\n").dropFirst()
        if lines.isEmpty { return AuditItem("swap", title, .ok, "no swap") }
        return AuditItem(
            "swap", title, .warn, "\(lines.count) swap area\(lines.count == 1 ? "" : "s") active: unlocked memory may be paged out",
            fix: "hv locks RTOS guest memory; for the rest: swapoff -a (and remove swap from /etc/fstab)")
    }

    func hugepages() -> AuditItem {
        let title = "transparent hugepages"
        guard let thp = read("/sys/kernel/mm/transparent_hugepage/enabled") else {
            return AuditItem("thp", title, .info, "not available")
        }
        if thp.contains("[always]") {
            return AuditItem(
                "thp", title, .warn, "always: khugepaged compaction can stall threads",
                fix: "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (or transparent_hugepage=madvise on the kernel command line)")
        }
        return AuditItem("thp", title, .ok, thp.contains("[never]") ? "never" : "madvise only")
    }

    func rtThrottling() -> AuditItem {
        let title = "real-time throttling"
        guard let v = read("/proc/sys/kernel/sched_rt_runtime_us"), let us = Int(v) else {
            return AuditItem("rt-throttling", title, .info, "not readable")
        }
        if us < 0 { return AuditItem("rt-throttling", title, .ok, "off: FIFO threads may use their whole core") }
        return AuditItem(
            "rt-throttling", title, .info,
            "on: SCHED_FIFO threads get at most \(us / 10_000) % of a core per second (a safety net against runaway RT threads)",
            fix: "on isolated RT cores it may be switched off: sysctl kernel.sched_rt_runtime_us=-1")
    }
}

extension RealTimeAudit {
    /// The running kernel's release and build ("6.1.0-57-rt-amd64 #1 SMP PREEMPT_RT …").
    public static func hostKernel() -> String {
        var u = utsname()
        uname(&u)
        func field<T>(_ v: T) -> String {
            withUnsafeBytes(of: v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(u.release)) \(field(u.version))"
    }
}

extension AuditItem {
    /// One line as `hv rt check` prints it ("[warn] title: detail").
    public var line: String {
        let mark =
            switch state {
            case .ok: "[ ok ]"
            case .info: "[info]"
            case .warn: "[warn]"
            case .critical: "[CRIT]"
            }
        return "\(mark) \(title): \(detail)"
    }
}
