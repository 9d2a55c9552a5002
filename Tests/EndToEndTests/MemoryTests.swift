import Foundation
import HVCore
import HVEngine
import Testing

extension EndToEnd {
    @Suite struct Memory {
        func meminfo(_ key: String) -> Int {
            let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
            let line = text.split(separator: "\n").first { $0.hasPrefix(key + ":") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }

        func setHugePages(_ n: Int) -> Bool {
            (try? "\(n)\n".write(toFile: "/proc/sys/vm/nr_hugepages", atomically: false, encoding: .utf8)) != nil
                && meminfo("HugePages_Total") == n
        }

        /// Huge pages when configured: refused with the numbers when none are
        /// reserved, used when they are.
        @Test func hugePagesWhenConfigured() throws {
            let original = meminfo("HugePages_Total")
            try #require(setHugePages(0), "cannot change /proc/sys/vm/nr_hugepages here")
            defer { _ = setHugePages(original) }
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            try host.writeUserConfig(dir, "[Guest\\Memory]\n    \"HugePages\"=\"yes\"\n")
            let refused = host.run("hv_guest_start", cwd: dir)
            #expect(
                refused.status == 9 && refused.err.contains("128 huge pages") && refused.err.contains("echo 128 > /proc/sys/vm/nr_hugepages"), "\(refused.err)")
            #expect(host.qemuPid("guestrtlinux") == nil)
            try #require(setHugePages(130))
            let start = host.run("hv_guest_start", cwd: dir)
            #expect(start.status == 0, "\(start.all)")
            #expect(meminfo("HugePages_Free") == 2, "the guest's 256 MiB are 128 huge pages")
            #expect(host.run("hv_guest_stop", cwd: dir).status == 0)
            #expect(meminfo("HugePages_Free") == 130)
        }

        /// A guest whose RAM is locked may lock that and a margin for QEMU's
        /// own, not the host's whole memory: RLIMIT_MEMLOCK is its size plus
        /// 512 MiB (and, under TCG, QEMU's 1 GiB translation buffer). Where
        /// hvd may not raise the limit (a container's root without
        /// CAP_SYS_RESOURCE, as on this build host) the start is refused with
        /// the reason and nothing runs; the nested passthrough test checks
        /// the limit itself on a real kernel.
        @Test func lockedMemoryIsBoundedByTheGuestsSize() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            try host.writeUserConfig(dir, "[Guest\\Memory]\n    \"Lock\"=\"yes\"\n")
            let start = host.run("hv_guest_start", cwd: dir)
            let expected = (256 + 512 + 1024) << 20
            if HostMemory.lockLimitProblem(bytes: UInt64(expected)) != nil {
                #expect(start.status == 9 && start.err.contains("CAP_SYS_RESOURCE") && start.err.contains("\"Lock\"=\"no\""), "\(start.all)")
                #expect(host.qemuPid("guestrtlinux") == nil)
                return
            }
            try #require(start.status == 0, "\(start.all)")
            let pid = try #require(try host.status("guestrtlinux").pid)
            let limits = host.text(URL(fileURLWithPath: "/proc/\(pid)/limits")).split(separator: "\n").first { $0.hasPrefix("Max locked memory") } ?? ""
            #expect(limits.split(separator: " ").contains(Substring(String(expected))), "\(limits) (expected \(expected))")
            let locked = host.text(URL(fileURLWithPath: "/proc/\(pid)/status")).split(separator: "\n").first { $0.hasPrefix("VmLck:") } ?? ""
            let kib = Int(locked.split(separator: " ").dropFirst().first ?? "") ?? 0
            #expect(kib >= 256 * 1024 && kib <= expected / 1024, "the guest's RAM is locked, within the limit: \(locked)")
            #expect(host.run("hv_guest_stop", cwd: dir).status == 0)
        }

        /// Each guest's QEMU has a memory limit: all it may map (RLIMIT_AS) is
        /// the guest's RAM, its shared memory and a margin (5 GiB under TCG),
        /// and its malloc keeps to four arenas (their reservations would
        /// otherwise eat the limit on a big host). RT-Linux of the rt-linux
        /// example: 256 MiB of RAM, no shared memory.
        @Test func eachGuestsQEMUHasAMemoryLimit() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare()
            let start = host.run("hv_guest_start", cwd: dir)
            try #require(start.status == 0, "\(start.all)")
            let pid = try #require(try host.status("guestrtlinux").pid)
            let expected = (256 << 20) + (5 << 30)
            let limits = host.text(URL(fileURLWithPath: "/proc/\(pid)/limits")).split(separator: "\n").first { $0.hasPrefix("Max address space") } ?? ""
            #expect(limits.split(separator: " ").filter { $0 == Substring(String(expected)) }.count == 2, "\(limits) (expected \(expected))")
            let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
            #expect(environ.split(separator: 0).contains(Data("MALLOC_ARENA_MAX=4".utf8)), "QEMU's environment")
            // The guest runs within it: its console answers.
            #expect(host.guestRun("guestrtlinux", "echo hv$((6*7))ok").contains("hv42ok"))
            #expect(host.run("hv_guest_stop", cwd: dir).status == 0)
        }
    }
}
