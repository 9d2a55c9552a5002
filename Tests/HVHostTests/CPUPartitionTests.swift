import Foundation
import HVAPI
import HVCore
import Testing

@testable import HVHost

/// The partition's cgroup v2 path on a stand-in tree: this machine binds
/// cpuset to cgroup v1, so v2 is checked by the files hv writes and reads.
@Suite struct CPUPartitionTests {
    struct Tree {
        let dir: String
        let partition: CPUPartition
        var cg2: String { dir + "/cgroup" }
        var rt: String { cg2 + "/" + CPUPartition.groupName(for: partition.stateFile) + "-rt" }

        init(
            controllers: String = "cpuset cpu io memory pids", subtree: String = "",
            effectiveAfter: String = "0-2"
        ) throws {
            dir = "/tmp/hv-partition-\(UUID().uuidString.prefix(8))"
            partition = CPUPartition(
                stateFile: URL(fileURLWithPath: dir + "/run/partition.json"),
                cpusetRoot: dir + "/no-v1", cgroup2Roots: [dir + "/cgroup"], procRoot: dir + "/proc")
            try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
            var files = [
                "/cgroup/cgroup.controllers": controllers, "/cgroup/cgroup.subtree_control": subtree,
                "/cgroup/cgroup.procs": "", "/cgroup/cgroup.threads": "",
                // What the kernel reports once the partition holds core 3.
                "/cgroup/cpuset.cpus.effective": effectiveAfter,
                "/proc/4242/status": "Name:\tCPU 0/TCG\nTgid:\t4200\nPid:\t4242\n",
                "/proc/irq/5/smp_affinity_list": "0-3", "/proc/irq/6/smp_affinity_list": "0",
            ]
            // The interface files the kernel creates with the group.
            for f in ["cgroup.type", "cpuset.cpus", "cpuset.cpus.partition", "cgroup.threads"] {
                files["/cgroup/" + CPUPartition.groupName(for: partition.stateFile) + "-rt/" + f] = ""
            }
            for (path, text) in files {
                let url = URL(fileURLWithPath: dir + path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
            }
        }

        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<missing>" }
        func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
    }

    @Test func cgroupV2MakesAnIsolatedThreadedPartitionAndGivesItBack() throws {
        let t = try Tree()
        defer { t.cleanup() }
        let notes = t.partition.apply(rtCores: [3], hostCores: [0, 1, 2])
        #expect(notes.isEmpty, "\(notes)")
        #expect(t.text(t.cg2 + "/cgroup.subtree_control") == "+cpuset")
        #expect(t.text(t.rt + "/cgroup.type") == "threaded")
        #expect(t.text(t.rt + "/cpuset.cpus") == "3")
        #expect(t.text(t.rt + "/cpuset.cpus.partition") == "isolated")
        #expect(t.text(t.dir + "/proc/irq/5/smp_affinity_list") == "0-2")
        #expect(t.text(t.dir + "/proc/irq/6/smp_affinity_list") == "0")
        let state = try #require(t.partition.current)
        #expect(state.mode == .cpusetV2 && state.rtGroup == t.rt && state.enabledCpusetController == true)

        // A vCPU thread: its process joins the thread root, the thread joins the group.
        #expect(t.partition.admit(thread: 4242) == nil)
        #expect(t.text(t.cg2 + "/cgroup.procs") == "4200")
        #expect(t.text(t.rt + "/cgroup.threads") == "4242")
        #expect(t.partition.admit(thread: 9999)?.contains("could not move vCPU thread 9999") == true)

        #expect(t.partition.release().isEmpty)
        #expect(t.text(t.cg2 + "/cgroup.threads") == "4242", "the thread goes back to the root cgroup")
        #expect(t.text(t.cg2 + "/cgroup.subtree_control") == "-cpuset", "hv turned the controller on, so it turns it off")
        #expect(!FileManager.default.fileExists(atPath: t.rt))
        #expect(t.text(t.dir + "/proc/irq/5/smp_affinity_list") == "0-3")
        #expect(t.partition.current == nil)
    }

    @Test func aControllerSomeoneElseEnabledStaysOn() throws {
        let t = try Tree(subtree: "cpu cpuset memory")
        defer { t.cleanup() }
        _ = t.partition.apply(rtCores: [3], hostCores: [0, 1, 2])
        #expect(t.partition.current?.enabledCpusetController == false)
        _ = t.partition.release()
        #expect(t.text(t.cg2 + "/cgroup.subtree_control") == "cpu cpuset memory")
    }

    @Test func aPartitionTheKernelDidNotHonourIsReported() throws {
        let t = try Tree(effectiveAfter: "0-3")
        defer { t.cleanup() }
        let notes = t.partition.apply(rtCores: [3], hostCores: [0, 1, 2])
        #expect(notes.contains { $0.contains("root cgroup still lists core 3") }, "\(notes)")
        _ = t.partition.release()
    }

    @Test func noCpusetControllerAnywhereIsSaidPlainly() throws {
        let t = try Tree(controllers: "cpu io memory")
        defer { t.cleanup() }
        let notes = t.partition.apply(rtCores: [3], hostCores: [0, 1, 2])
        #expect(notes.contains { $0.contains("has no cpuset controller") && $0.contains("core 3") }, "\(notes)")
        #expect(t.partition.current?.mode == PartitionMode.none)
        #expect(t.text(t.rt + "/cgroup.type") == "", "nothing written")
        #expect(t.text(t.dir + "/proc/irq/5/smp_affinity_list") == "0-2", "interrupts still move")
        _ = t.partition.release()
        #expect(t.text(t.dir + "/proc/irq/5/smp_affinity_list") == "0-3")
    }
}
