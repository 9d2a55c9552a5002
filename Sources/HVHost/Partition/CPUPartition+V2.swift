import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// cgroup v2: one threaded child of the root cgroup holding the RT cores as
/// an isolated partition. The kernel then removes those cores from the root
/// and from every other cgroup itself, so no task has to be moved; the root
/// cgroup is the thread root, which lets single vCPU threads join the group.
extension CPUPartition {
    func applyV2(_ state: inout State, root: String) -> [String] {
        let rt = root + "/" + Self.groupName(for: stateFile) + "-rt"
        let cores = CPUList.format(Set(state.rtCores))
        var enabled = false
        do {
            if !(read(root + "/cgroup.subtree_control") ?? "").split(separator: " ").contains("cpuset") {
                try write(root + "/cgroup.subtree_control", "+cpuset")
                enabled = true
            }
            try FileManager.default.createDirectory(atPath: rt, withIntermediateDirectories: true)
            try write(rt + "/cgroup.type", "threaded")
            try write(rt + "/cpuset.cpus", cores)
        } catch {
            removeGroup(rt)
            if enabled { try? write(root + "/cgroup.subtree_control", "-cpuset") }
            return ["could not set up the cgroup v2 cpuset under \(root) (\(error)): the RT cores are kept by thread affinity only"]
        }
        state.mode = .cpusetV2
        state.rtGroup = rt
        state.cgroup2Root = root
        state.enabledCpusetController = enabled
        // "isolated" (Linux 6.2+) also turns off load balancing there; older kernels know "root".
        if (try? write(rt + "/cpuset.cpus.partition", "isolated")) == nil {
            try? write(rt + "/cpuset.cpus.partition", "root")
        }
        var notes: [String] = []
        let partition = read(rt + "/cpuset.cpus.partition") ?? "member"
        if partition.contains("invalid") || partition == "member" {
            notes.append(
                "the kernel refused core \(cores) as an isolated cgroup v2 partition (\(partition)): host processes may still run there; the RT guest keeps it by affinity and SCHED_FIFO"
            )
            notes += claimsOnRTCores(root: root, except: rt, rtCores: state.rtCores)
        }
        // Verified, not assumed: what the rest of the host may still use.
        if let left = read(root + "/cpuset.cpus.effective").flatMap(CPUList.parse), !left.isDisjoint(with: state.rtCores) {
            notes.append("the root cgroup still lists core \(CPUList.format(left.intersection(state.rtCores))) as its own (partition \(partition))")
        }
        return notes
    }

    /// A partition's cores must be exclusive: other cgroups whose own
    /// cpuset.cpus name an RT core (systemd writes it for AllowedCPUs=) are
    /// why the kernel refuses, and the user can change them.
    func claimsOnRTCores(root: String, except rt: String, rtCores: [Int]) -> [String] {
        Self.cpusetClaims(below: root, on: rtCores, sys: SysFS()).filter { $0.group != rt }.map { claim in
            "\(claim.group) claims core \(CPUList.format(claim.cpus.intersection(rtCores))) in its cpuset.cpus (\(CPUList.format(claim.cpus))): "
                + "leave the RT cores out there (for a systemd slice: AllowedCPUs=) so that the kernel can isolate them"
        }
    }

    /// The child cgroups of `root` whose own cpuset.cpus names an RT core.
    public static func cpusetClaims(below root: String, on rtCores: [Int], sys: SysFS) -> [(group: String, cpus: Set<Int>)] {
        sys.entries(root).map { root + "/" + $0 }.compactMap { group in
            guard let own = sys.text(group + "/cpuset.cpus").flatMap(CPUList.parse), !own.isDisjoint(with: rtCores) else { return nil }
            return (group, own)
        }
    }

    /// The vCPU thread's process joins the root cgroup (the RT group's thread
    /// root, from wherever hvd's cgroup put it), then the thread joins the group.
    func admitV2(threads: [Int32], state s: State) -> [String] {
        guard let root = s.cgroup2Root else { return [] }
        var refused: [String] = []
        var moved = Set<Int>()
        for thread in threads {
            let status = read("\(procRoot)/\(thread)/status") ?? ""
            let tgid = status.split(separator: "\n").first { $0.hasPrefix("Tgid:") }
                .flatMap { Int($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
            do {
                guard let tgid else { throw HVError(.notFound, "thread \(thread) has no process") }
                if moved.insert(tgid).inserted { try write(root + "/cgroup.procs", String(tgid)) }
                try write(s.rtGroup + "/cgroup.threads", String(thread))
            } catch {
                refused.append("could not move vCPU thread \(thread) into the RT cgroup: \(error)")
            }
        }
        return refused
    }

    func releaseV2(_ s: State) -> [String] {
        guard let root = s.cgroup2Root, FileManager.default.fileExists(atPath: s.rtGroup) else { return [] }
        for tid in (read(s.rtGroup + "/cgroup.threads") ?? "").split(separator: "\n") {
            try? write(root + "/cgroup.threads", String(tid))
        }
        try? write(s.rtGroup + "/cpuset.cpus.partition", "member")
        var notes: [String] = []
        if let problem = removeGroup(s.rtGroup) { notes.append(problem) }
        // Only what hv turned on; it stays on when another group has started using it since.
        if s.enabledCpusetController == true { try? write(root + "/cgroup.subtree_control", "-cpuset") }
        return notes
    }

    /// rmdir is how a cgroup goes; a plain directory (a test's stand-in tree)
    /// still holds its files and is removed with them.
    @discardableResult
    func removeGroup(_ path: String) -> String? {
        if rmdir(path) == 0 || errno == ENOENT { return nil }
        if errno == ENOTEMPTY, (try? FileManager.default.removeItem(atPath: path)) != nil { return nil }
        return "could not remove \(path): \(String(cString: strerror(errno)))"
    }
}
