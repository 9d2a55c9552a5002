import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    /// `hv devices list` on a real kernel with a real (emulated) IOMMU: a q35
    /// guest with Intel's IOMMU and interrupt remapping, and an e1000e NIC on
    /// PCIe. The NIC shows with its names and IOMMU group; the host bridge
    /// stays with the host; nothing says the IOMMU is off.
    @Suite struct PCIDevicesOnARealKernel {
        @Test func devicesListReadsTheIOMMUGroups() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let guest = try KernelGuest(host: host)
            defer { guest.stop() }
            // hv asks hvd for the list (it starts the hvd beside it), as on a host.
            try guest.provide([TestHost.products.appendingPathComponent("hv"), TestHost.products.appendingPathComponent("hvd")])
            try FileManager.default.createDirectory(at: guest.share.appendingPathComponent("share"), withIntermediateDirectories: true)
            if let ids = PCIDevices.defaultIDsFile {
                try FileManager.default.copyItem(at: URL(fileURLWithPath: ids), to: guest.share.appendingPathComponent("share/pci.ids"))
            }
            try guest.boot(iommu: true)
            let finished = try guest.run(
                """
                out=/hv/guests/results; mkdir -p $out /usr/share/misc
                cp /hv/guests/share/pci.ids /usr/share/misc/pci.ids 2>/dev/null
                ls /sys/kernel/iommu_groups > $out/groups.txt 2>&1
                LD_LIBRARY_PATH=/hv/guests/lib /hv/guests/bin/hv devices list --json --all > $out/devices.json 2> $out/devices.err
                LD_LIBRARY_PATH=/hv/guests/lib /hv/guests/bin/hv devices list > $out/devices.txt 2>&1
                LD_LIBRARY_PATH=/hv/guests/lib /hv/guests/bin/hv daemon stop > /dev/null 2>&1
                echo done > $out/done

                """, timeout: 300)
            try #require(finished, "the script did not finish: \(guest.console.suffix(2000))")
            let r = guest.result
            #expect(!r("groups.txt").isEmpty, "the kernel made IOMMU groups: \(guest.console.suffix(1500))")
            let devices = try JSONDecoder().decode([PCIDevice].self, from: Data(r("devices.json").utf8))
            let nic = try #require(devices.first { $0.vendorID == "8086" && $0.deviceID == "10d3" }, "\(r("devices.json").prefix(800)) \(r("devices.err"))")
            #expect(nic.iommuGroup != nil && nic.className == "network controller", "\(nic)")
            #expect(nic.deviceName?.contains("82574") == true || PCIDevices.defaultIDsFile == nil, "\(nic)")
            #expect(!nic.notAssignable.contains { $0.contains("IOMMU is off") }, "\(nic.notAssignable)")
            let hostBridge = try #require(devices.first { $0.classCode >> 8 == 0x0600 })
            #expect(!hostBridge.assignable && hostBridge.notAssignable.contains { $0.contains("stays with the host") })
            #expect(!r("devices.txt").contains("The IOMMU is off"), "\(r("devices.txt"))")
        }
    }
}
