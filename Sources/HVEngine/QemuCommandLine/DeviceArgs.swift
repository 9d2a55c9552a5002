import Foundation
import HVCore

/// QEMU arguments for the host devices a guest holds. The devices were bound
/// to vfio-pci (and their nodes handed to the guest's user) by hvd first.
enum DeviceArgs {
    /// The first PCI slot of assigned devices on an RTOS guest's bus (the
    /// communication subsystem's doorbells count down from 0x0f, its regions up from 0x10;
    /// `GuestConfig.devices` keeps the two apart).
    static let firstRTOSSlot = 0x02

    /// `fixedSlots`: an RTOS guest's devices at fixed slots (its bus is otherwise
    /// empty); a KVM guest's go wherever q35 has room.
    static func pci(_ addresses: [String], fixedSlots: Bool) -> [String] {
        addresses.enumerated().flatMap { i, address in
            ["-device", "vfio-pci,host=\(address),id=hostpci\(i)" + (fixedSlots ? ",addr=" + String(format: "0x%02x", firstRTOSSlot + i) : "")]
        }
    }

    /// usb-host on the guest's xHCI controller: by ids it follows the device
    /// to any port; by port it takes whatever is plugged in there.
    static func usb(_ specs: [USBDeviceSpec]) -> [String] {
        specs.enumerated().flatMap { i, spec -> [String] in
            let which: String =
                switch spec {
                case .ids(let v, let p): "vendorid=0x\(v),productid=0x\(p)"
                case .port(let bus, let path): "hostbus=\(bus),hostport=\(path)"
                }
            return ["-device", "usb-host,bus=usb.0,\(which),id=hostusb\(i)"]
        }
    }
}
