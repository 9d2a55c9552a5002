import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// Gives host USB devices to a KVM guest (QEMU's usb-host, through libusb):
/// each device's node in /dev/bus/usb is handed to the guest's user while
/// it runs, and given back (root's, 0664 as udev makes it) when it stops.
/// What hv handed over is written down (run/usb-devices.json).
public struct USBPassthrough: Sendable {
    public let layout: HostLayout
    public var sysRoot: String

    public init(layout: HostLayout, sysRoot: String = "") {
        self.layout = layout
        self.sysRoot = sysRoot
    }

    /// A USB device as sysfs shows it.
    public struct Found: Sendable, Equatable {
        /// sysfs's name: "1-2", "3-1.4".
        public var port: String
        public var vendor: String, product: String
        public var bus: Int, address: Int
        /// How the host uses it (a USB disk mounted, a USB NIC with an address).
        public var inUse: [String] = []
        public var node: String { String(format: "/dev/bus/usb/%03d/%03d", bus, address) }

        public init(port: String, vendor: String, product: String, bus: Int, address: Int, inUse: [String] = []) {
            self.port = port
            self.vendor = vendor
            self.product = product
            self.bus = bus
            self.address = address
            self.inUse = inUse
        }
    }

    /// node → guest
    public var recordFile: RecordFile<[String: String]> { RecordFile(layout.usbDevicesRecord, what: "the USB devices hv handed to guests") }
    private static let changing = Monitor(())

    /// After run/usb-devices.json was found damaged: a device node hv handed
    /// over still belongs to a guest's user, so none is forgotten. One whose
    /// guest runs (`guests`: its QEMU user → folder) is recorded for it
    /// again; the others go back to root and their drivers now.
    public func recover(guests: [uid_t: String]) -> [String] {
        Self.changing.withLock { _ in
            var r = record
            var notes: [String] = []
            for d in list() where r[d.node] == nil {
                var st = stat()
                guard lstat(sysRoot + d.node, &st) == 0, GuestIdentity.guestUsers.contains(st.st_uid) else { continue }
                if let guest = guests[st.st_uid] {
                    r[d.node] = guest
                    notes.append("\(d.node) (port \(d.port)): held by \(guest) again (from the damaged record); given back when it stops")
                } else {
                    r[d.node] = ""
                    releaseLocked(guest: "", record: &r)
                    notes.append("\(d.node) (port \(d.port)): its guest is not running; given back to the host")
                }
            }
            try? save(r)
            return notes
        }
    }

    public var record: [String: String] {
        recordFile.value ?? [:]
    }

    /// The host's USB devices (interfaces such as "1-2:1.0" and root hubs left out).
    public func list() -> [Found] {
        let sys = SysFS(root: sysRoot), pci = PCIDevices(sysRoot: sysRoot)
        return sys.entries("/sys/bus/usb/devices").compactMap { name in
            guard !name.contains(":"), !name.hasPrefix("usb") else { return nil }
            let base = "/sys/bus/usb/devices/\(name)"
            guard let v = sys.text(base + "/idVendor"), let p = sys.text(base + "/idProduct"),
                let bus = sys.int(base + "/busnum"), let dev = sys.int(base + "/devnum")
            else { return nil }
            return Found(
                port: name, vendor: v.lowercased(), product: p.lowercased(), bus: bus, address: dev,
                inUse: pci.hostUse(interfaces: pci.below(base, named: "net"), base: base))
        }
    }

    /// The devices each spec names now; a spec that names none is refused.
    /// Ids that match two devices are refused (QEMU would take one of them and
    /// hv would have handed both over): the port names one. So is a device
    /// the host uses, unless TakeInUse says to take it anyway.
    public static func resolve(_ specs: [USBDeviceSpec], among devices: [Found], takeInUse: Bool = false) throws -> [Found] {
        try specs.flatMap { spec -> [Found] in
            let found: [Found] =
                switch spec {
                case .ids(let v, let p): devices.filter { $0.vendor == v && $0.product == p }
                case .port(let bus, let path): devices.filter { $0.port == "\(bus)-\(path)" }
                }
            guard !found.isEmpty else {
                throw HVError(
                    .notFound, "no USB device \(spec) is plugged into this host",
                    hint: "plug it in (`lsusb` lists what is there), or correct \"Usb\" in [Guest\\Devices]")
            }
            guard found.count == 1 else {
                throw HVError(
                    .conflict, "USB device \(spec) matches \(found.count) devices (ports \(found.map(\.port).joined(separator: ", ")))",
                    hint: "name the one the guest gets by its port in \"Usb\" of [Guest\\Devices], such as \(found[0].port)")
            }
            if let use = found[0].inUse.first, !takeInUse {
                throw HVError(
                    .conflict, "USB device \(spec) at \(found[0].port): \(use)",
                    hint: "free it on the host first (unmount the disk, remove the address), or set \"TakeInUse\"=\"yes\" in [Guest\\Devices] to take it anyway"
                )
            }
            return found
        }
    }

    /// Checks and hands the devices' nodes to `owner`; refused when another guest has one.
    public func claim(_ specs: [USBDeviceSpec], guest: String, takeInUse: Bool = false, owner: (uid: uid_t, gid: gid_t)) throws {
        guard !specs.isEmpty else { return }
        try Self.changing.withLock { _ in
            var r = record
            let found = try Self.resolve(specs, among: list(), takeInUse: takeInUse)
            for d in found {
                if let other = r[d.node], other != guest {
                    throw HVError(
                        .conflict, "USB device \(d.vendor):\(d.product) at \(d.port) is in use by guest \(other)",
                        hint: "stop \(other) first, or take it out of one guest's \"Usb\"")
                }
            }
            do {
                for d in found {
                    r[d.node] = guest
                    try save(r)
                    try PCIPassthrough.setOwner(sysRoot + d.node, uid: owner.uid, gid: owner.gid, mode: 0o600)
                }
            } catch {
                releaseLocked(guest: guest, record: &r)
                try? save(r)
                throw error
            }
        }
    }

    public func release(guest: String) {
        Self.changing.withLock { _ in
            var r = record
            guard r.values.contains(guest) else { return }
            releaseLocked(guest: guest, record: &r)
            try? save(r)
        }
    }

    private func releaseLocked(guest: String, record r: inout [String: String]) {
        let present = list()
        for (node, g) in r where g == guest {
            // A device unplugged meanwhile took its node along; a new one is udev's.
            try? PCIPassthrough.setOwner(sysRoot + node, uid: 0, gid: 0, mode: 0o664)
            // QEMU gives the interfaces back to their drivers when it closes the
            // device; one killed could not: probe those left without a driver.
            if let d = present.first(where: { $0.node == node }) { reprobe(d) }
            r.removeValue(forKey: node)
        }
    }

    private func reprobe(_ d: Found) {
        let sys = SysFS(root: sysRoot)
        for interface in sys.entries("/sys/bus/usb/devices/\(d.port)") where interface.hasPrefix(d.port + ":") {
            let base = "/sys/bus/usb/devices/\(d.port)/\(interface)"
            guard !FileManager.default.fileExists(atPath: sysRoot + base + "/driver") else { continue }
            try? sys.write(interface, to: "/sys/bus/usb/drivers_probe")
        }
    }

    private func save(_ r: [String: String]) throws {
        try recordFile.write(r)
    }
}
