import Foundation
import HVAPI
import HVCore
import Testing

extension EndToEnd {
    @Suite struct RTCheck {
        /// On this machine: what the host really is (TCG here, no isolcpus) is what hv says.
        @Test func reportsThisHost() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            try host.prepare()
            let r = host.run("hv", ["rt", "check", "--json"])
            let items = Dictionary(uniqueKeysWithValues: try JSONDecoder().decode([AuditItem].self, from: Data(r.out.utf8)).map { ($0.id, $0) })
            let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            let hardware = cpuinfo.contains(" vmx") || cpuinfo.contains(" svm")
            let kvmOpens = FileManager.default.isWritableFile(atPath: "/dev/kvm")
            #expect(items["accelerator"]?.state == (hardware && kvmOpens ? .ok : .critical))
            #expect(items["virtual-host"]?.state == (cpuinfo.contains(" hypervisor") ? .warn : .ok))
            #expect(r.status == (items.values.contains { $0.state == .critical } ? 1 : 0))
            let cmdline = try String(contentsOfFile: "/proc/cmdline", encoding: .utf8)
            if !cmdline.contains("isolcpus=") { #expect(items["isolcpus"]?.state == .warn) }
            let swaps = try String(contentsOfFile: "/proc/swaps", encoding: .utf8).split(separator: "\n").count
            #expect(items["swap"]?.state == (swaps > 1 ? .warn : .ok))
            // The cpuset interface hv_vmf_start will use here (this machine: cpuset bound to cgroup v1).
            if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpuset/tasks") {
                #expect(items["cpuset"]?.state == .ok && items["cpuset"]?.detail.contains("cgroup v1") == true, "\(String(describing: items["cpuset"]))")
            }
            #expect(items["cpuset"]?.fix.contains("hv rt try-partition") == true)
            let text = host.run("hv", ["rt", "check"])
            #expect(text.out.contains("accelerator:") && text.out.contains("critical,"), "\(text.all)")
        }
    }
}
