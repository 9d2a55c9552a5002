import Foundation
import HVAPI
import HVCore
import HVHost

/// The host's PCI devices as passthrough sees them: each with its names, IOMMU
/// group, current driver, and whether it can be given to a guest (and why
/// not). Read from sysfs below `sysRoot` (a fake tree in tests); nothing is
/// changed here.
public struct PCIDevices: Sendable {
    public var sysRoot: String
    /// pci.ids (Debian's `pci.ids` package); without it devices show their numbers.
    public var idsFile: String?
    /// Whether a network interface carries an address (the host uses it).
    public var interfaceAddresses: @Sendable (String) -> [String]
    /// Mounted block devices (their /dev names), from /proc/self/mounts.
    public var mountedDevices: @Sendable () -> Set<String>

    public init(
        sysRoot: String = "", idsFile: String? = PCIDevices.defaultIDsFile,
        interfaceAddresses: @escaping @Sendable (String) -> [String] = HostNetwork.addresses(of:),
        mountedDevices: @escaping @Sendable () -> Set<String> = PCIDevices.mounted
    ) {
        self.sysRoot = sysRoot
        self.idsFile = idsFile
        self.interfaceAddresses = interfaceAddresses
        self.mountedDevices = mountedDevices
    }

    public static var defaultIDsFile: String? {
        ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"].first { FileManager.default.fileExists(atPath: $0) }
    }

    var sys: SysFS { SysFS(root: sysRoot) }

    /// The IOMMU is on when the kernel made groups.
    public var iommuEnabled: Bool { !sys.entries("/sys/kernel/iommu_groups").isEmpty }

    public func list() -> [PCIDevice] {
        let names = PCIIDs(file: idsFile)
        let addresses = sys.entries("/sys/bus/pci/devices").filter(PCIDevice.isAddress)
        var raw: [PCIDevice] = addresses.map { addr in
            let base = "/sys/bus/pci/devices/\(addr)"
            let vendor = hex(sys.text(base + "/vendor")), device = hex(sys.text(base + "/device"))
            let cls = UInt32(hex(sys.text(base + "/class")), radix: 16) ?? 0
            let group = link(base + "/iommu_group").flatMap { Int($0) }
            var d = PCIDevice(
                address: addr, vendorID: vendor, deviceID: device, classCode: cls,
                vendorName: names.vendor(vendor), deviceName: names.device(vendor, device),
                className: PCIDevice.className(cls), driver: link(base + "/driver"), iommuGroup: group)
            d.interfaces = below(base, named: "net")
            d.inUse = inUse(d, base: base)
            d.resetMethods = resetMethods(base)
            return d
        }
        let iommu = iommuEnabled
        for i in raw.indices {
            var why: [String] = []
            if !iommu {
                why.append("the IOMMU is off: enable VT-d (Intel) or AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD)")
            }
            if raw[i].isBridge { why.append("a PCI bridge or host bridge stays with the host") }
            why += raw[i].inUse
            if let g = raw[i].iommuGroup {
                let others = raw.filter { $0.iommuGroup == g && $0.address != raw[i].address && !$0.isBridge }
                raw[i].groupMembers = others.map(\.address)
                if !others.isEmpty {
                    let list = others.map { "\($0.address) (\($0.driver ?? "no driver"))" }.joined(separator: ", ")
                    why.append("its IOMMU group \(g) also holds \(list): a group goes to one guest whole, so name those too")
                }
            }
            raw[i].notAssignable = why
        }
        return raw
    }

    /// The list, each device with the guest that holds it (from hv's record).
    public func list(heldBy record: PCIPassthrough.Record) -> [PCIDevice] {
        list().map { d in
            var d = d
            d.heldBy = record.devices[d.address]?.guest
            return d
        }
    }

    /// What on the host uses the device: a NIC with an address, in a bridge or
    /// bond, or under a VLAN; a controller with a disk that is mounted, swap,
    /// or held by LVM, dm-crypt or md (its holders/).
    func inUse(_ d: PCIDevice, base: String) -> [String] { hostUse(interfaces: d.interfaces, base: base) }

    /// The same for any device folder of sysfs (a USB device's too): its network interfaces and the disks below it.
    func hostUse(interfaces: [String], base: String) -> [String] {
        var out: [String] = []
        for nic in interfaces {
            let addrs = interfaceAddresses(nic)
            if !addrs.isEmpty { out.append("the host uses it: its interface \(nic) has the address \(addrs.joined(separator: ", "))") }
            if let master = link("/sys/class/net/\(nic)/master") { out.append("the host uses it: its interface \(nic) is a port of \(master)") }
            let uppers = sys.entries("/sys/class/net/\(nic)").filter { $0.hasPrefix("upper_") }.map { String($0.dropFirst(6)) }
            if !uppers.isEmpty { out.append("the host uses it: its interface \(nic) carries \(uppers.joined(separator: ", "))") }
        }
        let mounted = mountedDevices()
        for disk in below(base, named: "block") {
            let parts = [disk] + sys.entries("/sys/class/block/\(disk)").filter { $0.hasPrefix(disk) }
            if let m = mounted.sorted().first(where: { $0 == disk || $0.hasPrefix(disk) }) {
                out.append("the host uses it: /dev/\(m) is mounted or swap")
            }
            for part in parts {
                let holders = sys.entries("/sys/class/block/\(part)/holders")
                if !holders.isEmpty { out.append("the host uses it: /dev/\(part) is held by \(holders.joined(separator: ", ")) (LVM, dm-crypt or md)") }
            }
        }
        return out
    }

    /// The kernel's reset methods for the device (reset_method, Linux 5.15;
    /// before it, a `reset` file means it has one).
    func resetMethods(_ base: String) -> [String] {
        if let methods = sys.text(base + "/reset_method") {
            return methods.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        }
        return FileManager.default.fileExists(atPath: sysRoot + base + "/reset") ? ["reset"] : []
    }

    /// The entries of every `named` folder below the device: its network
    /// interfaces ("net"), its disks ("block"), also behind a virtio or SCSI child.
    func below(_ base: String, named: String, depth: Int = 0) -> [String] {
        guard depth < 6 else { return [] }
        var out: [String] = []
        for e in sys.entries(base) where !["driver", "subsystem", "iommu_group", "firmware_node", "physfn", "power", "port"].contains(e) {
            if e == named {
                out += sys.entries(base + "/" + named)
                continue
            }
            var st = stat()
            // Real folders only: sysfs links lead back up the tree.
            guard lstat(sysRoot + base + "/" + e, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            out += below(base + "/" + e, named: named, depth: depth + 1)
        }
        return out
    }

    func link(_ path: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: sysRoot + path)).map { URL(fileURLWithPath: $0).lastPathComponent }
    }

    func hex(_ text: String?) -> String {
        String((text ?? "").lowercased().replacingOccurrences(of: "0x", with: "").prefix(8))
    }

    /// The /dev names mounted or used as swap now (e.g. "sda1", "nvme0n1p2").
    public static func mounted() -> Set<String> {
        let text = ["/proc/self/mounts", "/proc/swaps"].map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined(separator: "\n")
        return Set(
            text.split(separator: "\n").compactMap { line in
                line.split(separator: " ").first.flatMap { $0.hasPrefix("/dev/") ? String($0.dropFirst(5)) : nil }
            })
    }
}

/// Names from pci.ids: vendor lines at column 0, device lines after one tab.
/// Read once, bounded (the file is ~1.5 MB; anything past 8 MB is ignored).
struct PCIIDs {
    private var vendors: [String: String] = [:]
    private var devices: [String: String] = [:]

    init(file: String?) {
        guard let file, let handle = FileHandle(forReadingAtPath: file),
            let data = try? handle.read(upToCount: 8 << 20)
        else { return }
        try? handle.close()
        var vendor: String?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            guard let first = line.first, first != "#" else { continue }
            if first == "\t" {
                guard let v = vendor, line.dropFirst().first != "\t" else { continue }
                let body = line.dropFirst()
                guard body.count > 6 else { continue }
                devices[v + ":" + body.prefix(4).lowercased()] = String(body.dropFirst(4)).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("C ") {
                vendor = nil  // the class list at the end
            } else if line.count > 6 {
                let id = line.prefix(4).lowercased()
                vendor = id
                vendors[id] = String(line.dropFirst(4)).trimmingCharacters(in: .whitespaces)
            }
        }
    }

    func vendor(_ id: String) -> String? { vendors[id] }
    func device(_ vendor: String, _ device: String) -> String? { devices[vendor + ":" + device] }
}

#if canImport(Glibc)
import Glibc
#endif
