import Foundation
import HVAPI
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

extension PCIPassthrough {
    /// After run/devices.json was found damaged (and kept aside): the
    /// devices it still names are not forgotten. Every PCI address in the
    /// damaged bytes that is bound to vfio-pci the way hv binds (its
    /// driver_override says vfio-pci) is recorded again for the guest whose
    /// QEMU holds its group (`guests`: QEMU pid → guest folder), so that guest's
    /// stop gives it back; one nobody holds goes back to the host now (to the
    /// driver the kernel picks: which one it had is what was lost). A device
    /// some other process holds is left alone and said. Returns what it did.
    public func recover(fromDamaged aside: URL, guests: [pid_t: String], procRoot: String = "/proc") -> [String] {
        guard let handle = FileHandle(forReadingAtPath: aside.path) else { return [] }
        defer { try? handle.close() }
        // Bounded: the record is small; what a damaged file holds beyond that is noise.
        let bytes = (try? handle.read(upToCount: 1 << 20)) ?? Data()
        let addresses = Self.addresses(in: String(decoding: bytes, as: UTF8.self))
        guard !addresses.isEmpty else { return [] }
        let sys = SysFS(root: sysRoot)
        return Self.changing.withLock { _ in
            var r = record
            var notes: [String] = []
            // One scan of the bus for all the addresses (it reads sysfs and pci.ids).
            let groups = Dictionary(PCIDevices(sysRoot: sysRoot).list().map { ($0.address, $0.iommuGroup) }, uniquingKeysWith: { a, _ in a })
            for address in addresses where r.devices[address] == nil {
                let base = "/sys/bus/pci/devices/\(address)"
                guard driver(address) == "vfio-pci", sys.text(base + "/driver_override") == "vfio-pci",
                    let group = groups[address] ?? nil
                else { continue }
                let holders = Self.holders(of: sysRoot + "/dev/vfio/\(group)", procRoot: procRoot)
                if let guest = holders.compactMap({ guests[$0] }).first {
                    r.devices[address] = .init(guest: guest, driver: nil, group: group)
                    notes.append("\(address): held by \(guest) again (from the damaged record); given back when it stops")
                } else if let pid = holders.first {
                    notes.append("\(address): bound to vfio-pci and held by pid \(pid), which is no guest's QEMU: left as it is")
                } else {
                    giveBack(address, .init(guest: "", driver: nil, group: group))
                    notes.append("\(address): nobody holds it; given back to the host (driver \(driver(address) ?? "none"))")
                }
            }
            try? save(r)
            return notes
        }
    }

    /// The PCI addresses ("0000:03:00.0") in `text`, each once, in order.
    static func addresses(in text: String) -> [String] {
        let chars = Array(text.lowercased()), width = 12
        var found: [String] = [], i = 0
        while i + width <= chars.count {
            let window = String(chars[i..<i + width])
            if PCIDevice.isAddress(window) {
                if !found.contains(window) { found.append(window) }
                i += width
            } else {
                i += 1
            }
        }
        return found
    }

    /// The processes with `node` open (by /proc/PID/fd's links).
    static func holders(of node: String, procRoot: String) -> [pid_t] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: procRoot)) ?? []).compactMap { pid_t($0) }.filter { pid in
            let fds = (try? fm.contentsOfDirectory(atPath: "\(procRoot)/\(pid)/fd")) ?? []
            return fds.contains { (try? fm.destinationOfSymbolicLink(atPath: "\(procRoot)/\(pid)/fd/\($0)")) == node }
        }.sorted()
    }
}
