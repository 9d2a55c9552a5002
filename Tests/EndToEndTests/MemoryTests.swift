import Foundation
import Testing
import HVCore

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
            #expect(refused.status == 9 && refused.err.contains("128 huge pages") && refused.err.contains("echo 128 > /proc/sys/vm/nr_hugepages"), "\(refused.err)")
            #expect(host.qemuPid("guestrtlinux") == nil)
            try #require(setHugePages(130))
            let start = host.run("hv_guest_start", cwd: dir)
            #expect(start.status == 0, "\(start.all)")
            #expect(meminfo("HugePages_Free") == 2, "the guest's 256 MiB are 128 huge pages")
            #expect(host.run("hv_guest_stop", cwd: dir).status == 0)
            #expect(meminfo("HugePages_Free") == 130)
        }
    }
}
