import Foundation
import HVCore
import Testing

extension EndToEnd {
    /// This host's own kernel has no IOMMU (no /sys/kernel/iommu_groups
    /// entries): a guest that names a device is refused with the kernel
    /// parameter, by the real hv and hvd, and nothing changes: no QEMU, the
    /// device on its driver, no record, and a KVM guest's first start leaves
    /// no new disk behind.
    @Suite(.enabled(if: HostPCI.hasNoIOMMU, "this host has an IOMMU: the refusal without one is tested in unit tests only"))
    struct WithoutAnIOMMU {

        @Test func aGuestWithADeviceIsRefusedAndNothingChanges() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let device = try #require(HostPCI.devices.last)
            let driverBefore = HostPCI.driver(device)
            try host.prepare("ubuntu_rtlinux")
            let devices = "[Guest\\Devices]\n    \"Pci\"=\"\(device)\"\n"
            let rt = host.folder("guestrtlinux")
            try host.writeUserConfig(rt, devices)
            let r = host.run("hv_guest_start", cwd: rt)
            #expect(r.status != 0 && r.err.contains("the IOMMU is off") && r.err.contains("intel_iommu=on"), "\(r.all)")
            #expect(host.qemuPid("guestrtlinux") == nil)

            // The KVM guest, installer in place, no disk yet: refused before the disk is made.
            try FileManager.default.createDirectory(at: host.layout.isoDir, withIntermediateDirectories: true)
            try Data().write(to: host.layout.isoDir.appendingPathComponent("ubuntu.iso"))
            let kvm = host.folder("guestubuntu")
            try ("[Guest\\Memory]\n    \"SizeMiB\"=\"512\"\n[Guest\\Boot]\n    \"Firmware\"=\"bios\"\n[Guest\\Security]\n    \"Tpm\"=\"no\"\n" + devices)
                .write(to: kvm.appendingPathComponent("usr.config"), atomically: true, encoding: .utf8)
            let before = try FileManager.default.contentsOfDirectory(atPath: kvm.path).sorted()
            let k = host.run("hv", ["guest", "start", "guestubuntu"])
            #expect(k.status != 0 && k.err.contains("the IOMMU is off"), "\(k.all)")
            let disk = host.layout.vmsDir.appendingPathComponent("example_ubuntu/ubuntu.qcow2")
            #expect(!FileManager.default.fileExists(atPath: disk.path), "the refused start created \(disk.path)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: kvm.path).sorted() == before)
            #expect(host.qemuPid("guestubuntu") == nil)

            #expect(HostPCI.driver(device) == driverBefore)
            let record = (try? String(contentsOf: host.layout.runDir.appendingPathComponent("devices.json"), encoding: .utf8)) ?? ""
            #expect(!record.contains(device), "\(record)")
            #expect(host.run("hv_vmf_stop", ["--yes"], cwd: rt).status == 0)
        }
    }
}

/// This host's PCI devices as its kernel lists them.
private enum HostPCI {
    static var hasNoIOMMU: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/iommu_groups")) ?? []).isEmpty && !devices.isEmpty
    }
    static var devices: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/bus/pci/devices")) ?? []).sorted()
    }
    static func driver(_ address: String) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/sys/bus/pci/devices/\(address)/driver"))
            .map { URL(fileURLWithPath: $0).lastPathComponent } ?? "none"
    }
}
