import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    @Suite struct Partition {
        /// Where the kernel lets a process run, and where it last ran.
        func placement(_ pid: Int32) -> (allowed: Set<Int>, lastCPU: Int?) {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") } ?? ""
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            // Field 39 of stat (36 after the command name) is the CPU it last ran on.
            return (
                parseList(String(line.dropFirst("Cpus_allowed_list:".count)).trimmingCharacters(in: .whitespaces)),
                fields.count > 36 ? Int(fields[36]) : nil
            )
        }

        func parseList(_ s: String) -> Set<Int> {
            var out = Set<Int>()
            for part in s.split(separator: ",") {
                let r = part.split(separator: "-").compactMap { Int($0) }
                if r.count == 1 { out.insert(r[0]) } else if r.count == 2 { out.formUnion(r[0]...r[1]) }
            }
            return out
        }

        func busyProcess() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done"]
            try p.run()
            return p
        }

        @Test func vmfLoadTakesTheRTCoreAwayAndUnloadGivesItBack() throws {
            let last = ProcessInfo.processInfo.activeProcessorCount - 1
            try #require(last > 0, "needs two cores")
            // Where a new process may run before hv takes a core (another hv root may hold one already).
            let before = try busyProcess()
            let allowedBefore = placement(before.processIdentifier).allowed
            before.terminate()
            before.waitUntilExit()
            try #require(allowedBefore.contains(last), "core \(last) is already taken by something else: \(allowedBefore)")
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let vmf = try JSONDecoder().decode(VMFStatus.self, from: Data(host.run("hv", ["vmf", "status"]).out.utf8))
            #expect(vmf.reservedCores["guestrtlinux"] == [last])
            let partition = CPUPartition(stateFile: host.layout.partitionState).current
            let mode = partition?.mode.rawValue
            guard mode == "cpuset-v1" || mode == "cpuset-v2" else {
                #expect(vmf.notes.contains { $0.contains("cpuset") }, "a host without cpusets is told so: \(vmf.notes)")
                return
            }
            // hv vmf status says how the core is kept, from the partition's own record.
            #expect(
                vmf.partition?.mode.rawValue == mode && vmf.partition?.rtCores == [last] && vmf.partition?.group == partition?.rtGroup,
                "\(String(describing: vmf.partition))")
            // A busy host process started now cannot run on the RT core.
            let busy = try busyProcess()
            var seen = Set<Int>()
            for _ in 0..<10 {
                let p = placement(busy.processIdentifier)
                #expect(!p.allowed.contains(last), "host process allowed on RT core: \(p.allowed)")
                if let c = p.lastCPU { seen.insert(c) }
                usleep(50_000)
            }
            busy.terminate()
            busy.waitUntilExit()
            #expect(!seen.contains(last))
            // The guest's vCPU runs there, FIFO.
            #expect(host.run("hv_guest_start", cwd: dir).status == 0)
            let g = try #require(try JSONDecoder().decode([GuestStatus].self, from: Data(host.run("hv", ["guest", "list", "--json"]).out.utf8)).first)
            #expect(g.vcpuPlacement.first?.cores == [last])
            #expect(g.vcpuPlacement.first?.policy == "fifo" || g.notes.contains { $0.contains("SCHED_FIFO not permitted") })
            // Under TCG QEMU's main thread runs the guest's timers: FIFO, below the vCPU, off the RT core.
            if g.accelerator == "tcg", g.vcpuPlacement.first?.policy == "fifo" {
                let emu = try #require(g.emulatorPlacement)
                #expect(emu.policy == "fifo" && emu.priority == (g.vcpuPlacement.first?.priority ?? 0) - 1, "\(emu)")
                #expect(!emu.cores.contains(last) && !emu.cores.isEmpty, "\(emu)")
            }
            let groups = [partition?.hostGroup, partition?.rtGroup].compactMap { $0 }
            // v1: a host and an RT cpuset; v2: one RT partition the kernel keeps the rest away from.
            #expect(groups.filter { !$0.isEmpty }.count == (mode == "cpuset-v1" ? 2 : 1))
            // Unloading gives the core back.
            let stop = host.run("hv_vmf_stop", ["--yes"], cwd: dir)
            #expect(stop.status == 0 && stop.out.contains("belong to the host again"), "\(stop.all)")
            let unloaded = try JSONDecoder().decode(VMFStatus.self, from: Data(host.run("hv", ["vmf", "status"]).out.utf8))
            #expect(!unloaded.loaded && unloaded.partition == nil)
            let after = try busyProcess()
            #expect(placement(after.processIdentifier).allowed == allowedBefore)
            after.terminate()
            after.waitUntilExit()
            #expect(!FileManager.default.fileExists(atPath: host.layout.partitionState.path))
            #expect(groups.allSatisfy { $0.isEmpty || !FileManager.default.fileExists(atPath: $0) }, "left behind: \(groups)")
        }
    }
}
