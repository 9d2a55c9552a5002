import Foundation
import HVAPI
import HVCore
import HVHost
import Testing

@testable import HVEngine

/// `hv devices list` over a fake sysfs tree: names from pci.ids, IOMMU
/// groups, drivers, and every reason a device cannot go to a guest.
@Suite struct PCIDevicesTests {
    final class Tree {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-pci-\(UUID().uuidString.prefix(6))")
        let fm = FileManager.default
        func file(_ path: String, _ text: String) throws {
            let url = root.appendingPathComponent(path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        func link(_ path: String, to target: String) throws {
            let url = root.appendingPathComponent(path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: url.path, withDestinationPath: target)
        }
        /// A device: ids, class, driver, IOMMU group.
        func device(_ addr: String, vendor: String, device: String, cls: String, driver: String?, group: Int?) throws {
            let base = "sys/bus/pci/devices/\(addr)"
            try file(base + "/vendor", "0x\(vendor)\n")
            try file(base + "/device", "0x\(device)\n")
            try file(base + "/class", "0x\(cls)\n")
            if let driver { try link(base + "/driver", to: "../../../bus/pci/drivers/\(driver)") }
            if let group {
                try fm.createDirectory(at: root.appendingPathComponent("sys/kernel/iommu_groups/\(group)/devices"), withIntermediateDirectories: true)
                try link(base + "/iommu_group", to: "../../../kernel/iommu_groups/\(group)")
            }
        }
        func cleanup() { try? fm.removeItem(at: root) }
    }

    @Test func devicesWithNamesGroupsAndReasons() throws {
        let t = Tree()
        defer { t.cleanup() }
        try t.file(
            "pci.ids",
            "# comment\n8086  Intel Corporation\n\t10d3  82574L Gigabit Network Connection\n\t\t8086 0001  a subsystem\n\t2922  82801IR/IO/IH SATA Controller\n1b36  Red Hat, Inc.\nC 02  Network controller\n"
        )
        try t.device("0000:00:00.0", vendor: "8086", device: "29c0", cls: "060000", driver: nil, group: 0)
        try t.device("0000:00:02.0", vendor: "8086", device: "10d3", cls: "020000", driver: "e1000e", group: 1)
        try t.file("sys/bus/pci/devices/0000:00:02.0/net/enp0s2/ifindex", "2\n")
        try t.device("0000:00:03.0", vendor: "8086", device: "10d3", cls: "020000", driver: "e1000e", group: 2)
        try t.file("sys/bus/pci/devices/0000:00:03.0/net/enp0s3/ifindex", "3\n")
        try t.device("0000:00:1f.2", vendor: "8086", device: "2922", cls: "010601", driver: "ahci", group: 3)
        try t.file("sys/bus/pci/devices/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/size", "1\n")
        try t.device("0000:01:00.0", vendor: "1b36", device: "000d", cls: "0c0330", driver: "xhci_hcd", group: 4)
        try t.device("0000:01:00.1", vendor: "1b36", device: "0001", cls: "070000", driver: nil, group: 4)
        try t.file("sys/bus/pci/devices/not-a-device/vendor", "0x1\n")

        let scan = PCIDevices(
            sysRoot: t.root.path, idsFile: t.root.appendingPathComponent("pci.ids").path,
            interfaceAddresses: { $0 == "enp0s2" ? ["192.168.1.5/24"] : [] },
            mountedDevices: { ["sda1"] })
        #expect(scan.iommuEnabled)
        let all = scan.list()
        #expect(all.map(\.address) == ["0000:00:00.0", "0000:00:02.0", "0000:00:03.0", "0000:00:1f.2", "0000:01:00.0", "0000:01:00.1"])
        func dev(_ a: String) throws -> PCIDevice { try #require(all.first { $0.address == a }) }

        let free = try dev("0000:00:03.0")
        #expect(free.vendorName == "Intel Corporation" && free.deviceName == "82574L Gigabit Network Connection")
        #expect(free.className == "network controller" && free.driver == "e1000e" && free.iommuGroup == 2 && free.interfaces == ["enp0s3"])
        #expect(free.assignable, "\(free.notAssignable)")

        let used = try dev("0000:00:02.0")
        #expect(used.notAssignable == ["the host uses it: its interface enp0s2 has the address 192.168.1.5/24"])
        let disk = try dev("0000:00:1f.2")
        #expect(disk.deviceName == "82801IR/IO/IH SATA Controller")
        #expect(disk.notAssignable == ["the host uses it: /dev/sda1 is mounted or swap"])
        #expect(try dev("0000:00:00.0").notAssignable == ["a PCI bridge or host bridge stays with the host"])
        let usb = try dev("0000:01:00.0")
        #expect(usb.className == "USB controller" && usb.vendorName == "Red Hat, Inc." && usb.deviceName == nil)
        #expect(usb.groupMembers == ["0000:01:00.1"])
        #expect(usb.notAssignable.first?.contains("its IOMMU group 4 also holds 0000:01:00.1 (no driver)") == true, "\(usb.notAssignable)")
    }

    @Test func withoutAnIOMMUNothingIsAssignableAndTheKernelParameterIsNamed() throws {
        let t = Tree()
        defer { t.cleanup() }
        try t.device("0000:00:03.0", vendor: "8086", device: "10d3", cls: "020000", driver: "e1000e", group: nil)
        let d = try #require(PCIDevices(sysRoot: t.root.path, idsFile: nil, interfaceAddresses: { _ in [] }, mountedDevices: { [] }).list().first)
        #expect(!d.assignable && d.notAssignable.first?.contains("intel_iommu=on") == true, "\(d.notAssignable)")
        #expect(d.vendorName == nil && d.iommuGroup == nil)
        #expect(PCIDevice.isAddress("0000:03:00.0") && !PCIDevice.isAddress("0000:03:00") && !PCIDevice.isAddress("../../etc"))
    }

    /// "The host uses it" beyond an address and a mount: a bridge port, a
    /// VLAN's parent, a disk under LVM/dm-crypt/md or in swap; and whether
    /// the kernel can reset the device.
    @Test func hostUseBehindBridgesVLANsHoldersAndSwapAndTheResetMethod() throws {
        let t = Tree()
        defer { t.cleanup() }
        for (addr, nic) in [("0000:03:00.0", "eth1"), ("0000:04:00.0", "eth2"), ("0000:05:00.0", "eth3")] {
            try t.device(addr, vendor: "8086", device: "10d3", cls: "020000", driver: "e1000e", group: 1)
            try t.file("sys/bus/pci/devices/\(addr)/net/\(nic)/address", "52:54:00:00:00:01\n")
        }
        try t.link("sys/class/net/eth1/master", to: "../br0")
        try t.link("sys/class/net/eth2/upper_eth2.10", to: "../eth2.10")
        try t.file("sys/bus/pci/devices/0000:03:00.0/reset_method", "flr bus\n")
        try t.file("sys/bus/pci/devices/0000:04:00.0/reset", "")
        for (addr, disk) in [("0000:06:00.0", "sdb"), ("0000:07:00.0", "sdc")] {
            try t.device(addr, vendor: "8086", device: "2922", cls: "010601", driver: "ahci", group: 2)
            try t.file("sys/bus/pci/devices/\(addr)/ata1/host0/block/\(disk)/size", "100\n")
            try t.file("sys/class/block/\(disk)/\(disk)1/partition", "1\n")
        }
        try t.file("sys/class/block/sdb1/holders/dm-0/dev", "254:0\n")
        let list = PCIDevices(sysRoot: t.root.path, idsFile: nil, interfaceAddresses: { _ in [] }, mountedDevices: { ["sdc1"] }).list()
        func device(_ a: String) -> PCIDevice? { list.first { $0.address == a } }
        #expect(
            device("0000:03:00.0")?.inUse == ["the host uses it: its interface eth1 is a port of br0"], "\(String(describing: device("0000:03:00.0")?.inUse))")
        #expect(device("0000:04:00.0")?.inUse == ["the host uses it: its interface eth2 carries eth2.10"])
        #expect(device("0000:05:00.0")?.inUse == [])
        #expect(
            device("0000:06:00.0")?.inUse == ["the host uses it: /dev/sdb1 is held by dm-0 (LVM, dm-crypt or md)"],
            "\(String(describing: device("0000:06:00.0")?.inUse))")
        #expect(device("0000:07:00.0")?.inUse == ["the host uses it: /dev/sdc1 is mounted or swap"])
        #expect(device("0000:03:00.0")?.resetMethods == ["flr", "bus"] && device("0000:04:00.0")?.resetMethods == ["reset"])
        #expect(device("0000:05:00.0")?.resetMethods == [], "no reset_method and no reset file: none")
    }
}
