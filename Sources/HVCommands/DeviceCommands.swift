import ArgumentParser
import Foundation
import HVAPI
import HVCore

/// `hv devices`: the host's PCI devices as passthrough sees them.
struct DevicesGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "The host's PCI devices: names, IOMMU group, driver, and whether a guest can have one.",
        subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List PCI devices with vendor and device names, IOMMU group, current driver, and why one cannot be assigned.")
        @Flag(help: "A JSON array for scripts.") var json = false
        @Flag(help: "Bridges too (they always stay with the host).") var all = false

        func run() throws {
            // hvd lists them (as root, with the guests that hold them from its own record).
            let listed = try Context().api.get(.hostDevices, as: [PCIDevice].self)
            let devices = listed.filter { all || !$0.isBridge }
            if json {
                FileHandle.standardOutput.write(APIJSON.encode(devices) + Data("\n".utf8))
                return
            }
            // Without an IOMMU the kernel makes no groups; without pci.ids no device has a name.
            if !listed.isEmpty && listed.allSatisfy({ $0.iommuGroup == nil }) {
                Out.say(
                    "The IOMMU is off: no device can be given to a guest. Enable VT-d (Intel) or AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD)."
                )
            }
            if !listed.isEmpty && listed.allSatisfy({ $0.vendorName == nil }) { Out.say("(install pci.ids for vendor and device names)") }
            for d in devices {
                let name = [d.vendorName, d.deviceName].compactMap { $0 }.joined(separator: " ")
                let what = name.isEmpty ? "\(d.className) \(d.vendorID):\(d.deviceID)" : "\(name) [\(d.vendorID):\(d.deviceID)]"
                let group = d.iommuGroup.map { "group \($0)" } ?? "no IOMMU group"
                Out.say(
                    "\(d.address)  \(what)\n    \(d.className), \(group), driver \(d.driver ?? "none")"
                        + (d.interfaces.isEmpty ? "" : ", interface \(d.interfaces.joined(separator: ", "))"))
                if let g = d.heldBy { Out.say("    held by guest \(g) (bound to vfio-pci while it runs)") }
                Out.say(d.assignable ? "    can be assigned" : d.notAssignable.map { "    not assignable: \($0)" }.joined(separator: "\n"))
            }
        }
    }
}
