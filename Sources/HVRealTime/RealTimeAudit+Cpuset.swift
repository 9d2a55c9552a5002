import Foundation
import HVAPI
import HVCore
import HVHost

/// Which cpuset interface hv_vmf_start will partition the RT cores with, and
/// whether another cgroup already claims them (the kernel then refuses).
extension RealTimeAudit {
    func cpuset() -> AuditItem {
        let id = "cpuset", title = "cpuset partition"
        let trial = "hv rt try-partition takes the RT cores for a moment and shows what this kernel makes of it"
        guard !rtCores.isEmpty else { return AuditItem(id, title, .info, "no RT core reserved") }
        let fm = FileManager.default
        if fm.fileExists(atPath: sysRoot + CPUPartition.cgroup1CpusetMount + "/tasks") {
            return AuditItem(id, title, .ok, "cgroup v1 cpuset: hv_vmf_start moves every task that may move off core \(cores)", fix: trial)
        }
        let v2 = CPUPartition.cgroup2Mounts.filter { fm.fileExists(atPath: sysRoot + $0 + "/cgroup.controllers") }
        if let root = CPUPartition.cgroup2WithCpuset(in: v2, sys: SysFS(root: sysRoot)) {
            let claims = CPUPartition.cpusetClaims(below: root, on: rtCores, sys: SysFS(root: sysRoot))
            guard claims.isEmpty else {
                let who = claims.map { "\($0.group.dropFirst(root.count + 1)) (\(CPUList.format($0.cpus)))" }.joined(separator: ", ")
                return AuditItem(
                    id, title, .warn,
                    "cgroup v2: \(who) claim\(claims.count == 1 ? "s" : "") core \(cores) in cpuset.cpus, so the kernel will refuse to isolate it",
                    fix: "leave core \(cores) out of those cgroups (for a systemd slice: AllowedCPUs=), then \(trial)")
            }
            return AuditItem(id, title, .ok, "cgroup v2: hv_vmf_start makes core \(cores) an isolated partition", fix: trial)
        }
        let why =
            v2.isEmpty
            ? "no cgroup hierarchy with the cpuset controller is mounted"
            : "the cgroup v2 hierarchy has no cpuset controller (it is bound to a v1 hierarchy that is not at /sys/fs/cgroup/cpuset, or not built in)"
        return AuditItem(
            id, title, .warn, "\(why): host processes may still run on core \(cores); the RT guest keeps it by affinity and SCHED_FIFO only",
            fix: "a kernel with CONFIG_CPUSETS and cgroup v2 mounted at /sys/fs/cgroup (systemd: systemd.unified_cgroup_hierarchy=1)")
    }
}
