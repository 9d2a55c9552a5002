import Foundation
import HVAPI
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// Gives host PCI devices to a guest through VFIO, as libvirt's `hostdev`
/// does: checked (IOMMU on, the whole IOMMU group, not the host's, not
/// another guest's), bound to vfio-pci, the group's /dev/vfio node handed to
/// the guest's user (QEMU runs unprivileged), and given back to the driver
/// it had when the guest stops. What hv took is written down first
/// (run/devices.json), so a new hvd gives back what a dead one took.
public struct PCIPassthrough: Sendable {
    public let layout: HostLayout
    /// "" on a real host; a fake tree in tests.
    public var sysRoot: String

    public init(layout: HostLayout, sysRoot: String = "") {
        self.layout = layout
        self.sysRoot = sysRoot
    }

    /// What hv holds: each device (by address) with its guest and the driver it had.
    public struct Record: Codable, Sendable, Equatable {
        public var devices: [String: Held] = [:]
        public struct Held: Codable, Sendable, Equatable {
            public var guest: String
            /// The host driver it had (nil: none), given back at the release.
            public var driver: String?
            public var group: Int
        }
    }

    public var recordFile: RecordFile<Record> { RecordFile(layout.devicesRecord, what: "the PCI devices hv holds for guests") }
    /// One change to bindings and the record at a time (guests start and stop concurrently).
    static let changing = Monitor(())
    /// Devices being given back now: their sysfs writes run outside `changing`
    /// (the kernel may hold an unbind until the device lets go), so one guest's
    /// stop never holds up another guest's start. Taken after `changing`, never before.
    private static let releasing = Monitor<Set<String>>([])

    public var record: Record {
        recordFile.value ?? Record()
    }

    func save(_ r: Record) throws {
        try recordFile.write(r)
    }

    /// Every reason `wanted` cannot go to `guest` now, first one thrown. Pure
    /// over the scan, so the refusals are tested without a kernel.
    public static func check(
        _ wanted: [String], guest: String, devices: [PCIDevice], iommu: Bool,
        heldBy: [String: String], takeInUse: Bool, allowNoReset: Bool = false
    ) throws {
        guard !wanted.isEmpty else { return }
        guard iommu else {
            throw HVError(
                .unsupported, "the IOMMU is off: \(wanted.joined(separator: ", ")) cannot be given to a guest",
                hint:
                    "enable VT-d (Intel) or AMD-Vi in the firmware and boot the host with intel_iommu=on (Intel) or amd_iommu=on (AMD); `hv devices list` says when it is on"
            )
        }
        for address in wanted {
            guard let d = devices.first(where: { $0.address == address }) else {
                throw HVError(
                    .notFound, "there is no PCI device \(address) on this host",
                    hint: "`hv devices list` shows the host's devices; correct \"Pci\" in [Guest\\Devices]")
            }
            let what = "\(address) (\([d.vendorName, d.deviceName].compactMap { $0 }.joined(separator: " ").nonEmpty ?? d.className))"
            if d.isBridge {
                throw HVError(
                    .unsupported, "\(what) is a PCI bridge: bridges stay with the host",
                    hint: "name the devices behind it instead (`hv devices list`)")
            }
            if let other = heldBy[address], other != guest {
                throw HVError(
                    .conflict, "\(what) is in use by guest \(other)",
                    hint: "a device goes to one guest at a time: stop \(other) first, or take it out of one guest's \"Pci\"")
            }
            if d.driver == "vfio-pci" && heldBy[address] == nil {
                throw HVError(
                    .conflict, "\(what) is bound to vfio-pci by something other than hv (another virtual machine manager?)",
                    hint: "free it there first; hv takes only devices it can give back")
            }
            if !d.inUse.isEmpty && !takeInUse {
                throw HVError(
                    .conflict, "\(what): " + d.inUse.joined(separator: "; "),
                    hint:
                        "free it on the host first (remove the address, unmount the disk), or set \"TakeInUse\"=\"yes\" in [Guest\\Devices] to take it anyway: the host loses it while the guest runs"
                )
            }
            // A guest may reflash or wedge it: without a reset the host gets it back as the guest left it.
            if d.resetMethods.isEmpty && !allowNoReset {
                throw HVError(
                    .unsupported, "\(what) has no reset method (the kernel lists none in reset_method): the host would get it back as the guest left it",
                    hint:
                        "use a device that can be reset (FLR, or alone behind its own PCIe port), or set \"AllowNoReset\"=\"yes\" in [Guest\\Devices] to accept that"
                )
            }
            guard let group = d.iommuGroup else {
                throw HVError(
                    .unsupported, "\(what) is in no IOMMU group, so VFIO cannot isolate it",
                    hint: "the IOMMU does not cover this device; it cannot be given to a guest")
            }
            let missing = d.groupMembers.filter { !wanted.contains($0) }
            if !missing.isEmpty {
                let list = missing.map { m in "\(m) (\(devices.first { $0.address == m }?.driver ?? "no driver"))" }.joined(separator: ", ")
                throw HVError(
                    .conflict, "\(what) shares IOMMU group \(group) with \(list): a group goes to one guest whole",
                    hint:
                        "add \(missing.joined(separator: ",")) to \"Pci\" in [Guest\\Devices] (the guest then gets them too), or move the card to another slot")
            }
        }
    }

    /// The same check on the host as it is now, before anything changes (claim checks again under its lock).
    public func preflight(_ wanted: [String], guest: String, takeInUse: Bool, allowNoReset: Bool = false) throws {
        guard !wanted.isEmpty else { return }
        let scan = PCIDevices(sysRoot: sysRoot)
        try Self.check(
            wanted, guest: guest, devices: scan.list(), iommu: scan.iommuEnabled,
            heldBy: record.devices.mapValues(\.guest), takeInUse: takeInUse, allowNoReset: allowNoReset)
    }

    /// Checks, then binds every device to vfio-pci and gives its group's
    /// node to `owner`. Returns the /dev/vfio nodes QEMU opens. On any
    /// failure what was taken is given back.
    @discardableResult
    public func claim(
        _ wanted: [String], guest: String, takeInUse: Bool, allowNoReset: Bool = false,
        owner: (uid: uid_t, gid: gid_t)
    ) throws -> [String] {
        guard !wanted.isEmpty else { return [] }
        return try Self.changing.withLock { _ in
            let scan = PCIDevices(sysRoot: sysRoot)
            let devices = scan.list()
            var r = record
            if let busy = Self.releasing.withLock({ $0 }).intersection(wanted).sorted().first {
                throw HVError(
                    .conflict, "\(busy) is still being given back to the host by the guest that had it",
                    hint: "start again in a moment")
            }
            try Self.check(
                wanted, guest: guest, devices: devices, iommu: scan.iommuEnabled,
                heldBy: r.devices.mapValues(\.guest), takeInUse: takeInUse, allowNoReset: allowNoReset)
            try loadVFIO()
            var nodes: [String] = []
            do {
                for address in wanted {
                    guard let d = devices.first(where: { $0.address == address }), let group = d.iommuGroup else { continue }
                    if r.devices[address] == nil {
                        // Written before the driver changes: a crash here still gives it back.
                        r.devices[address] = .init(guest: guest, driver: d.driver == "vfio-pci" ? nil : d.driver, group: group)
                        try save(r)
                    }
                    try bindToVFIO(address, from: d.driver)
                    let node = "/dev/vfio/\(group)"
                    try waitFor(node)
                    try Self.setOwner(sysRoot + node, uid: owner.uid, gid: owner.gid, mode: 0o600)
                    if !nodes.contains(node) { nodes.append(node) }
                }
            } catch {
                releaseLocked(guest: guest, record: &r)
                try? save(r)
                throw error
            }
            return nodes
        }
    }

    /// Gives back every device `guest` holds: unbound from vfio-pci, its node
    /// root's again, and bound to the driver it had.
    /// The record keeps them (so no other guest takes one) until the
    /// driver has them again; the writes in between run outside the lock.
    public func release(guest: String) {
        let held: [(String, Record.Held)] = Self.changing.withLock { _ in
            let mine = record.devices.filter { $0.value.guest == guest }.sorted { $0.key < $1.key }
            Self.releasing.withLock { $0.formUnion(mine.map(\.key)) }
            return mine
        }
        guard !held.isEmpty else { return }
        for (address, h) in held { giveBack(address, h) }
        Self.changing.withLock { _ in
            var r = record
            for (address, _) in held where r.devices[address]?.guest == guest { r.devices.removeValue(forKey: address) }
            try? save(r)
            Self.releasing.withLock { $0.subtract(held.map(\.0)) }
        }
    }

    /// The devices `guest` holds now (by the record).
    public func held(by guest: String) -> [String] {
        record.devices.filter { $0.value.guest == guest }.map(\.key).sorted()
    }

    /// A start that failed half way, under the lock: nothing else could be waiting on these.
    private func releaseLocked(guest: String, record r: inout Record) {
        for (address, held) in r.devices.sorted(by: { $0.key < $1.key }) where held.guest == guest {
            giveBack(address, held)
            r.devices.removeValue(forKey: address)
        }
    }

    /// Its group's node root's again, unbound from vfio-pci, bound to the driver it had.
    func giveBack(_ address: String, _ held: Record.Held) {
        let base = "/sys/bus/pci/devices/\(address)"
        try? Self.setOwner(sysRoot + "/dev/vfio/\(held.group)", uid: 0, gid: 0, mode: 0o600)
        try? write("\n", to: base + "/driver_override")
        if driver(address) == "vfio-pci" { try? write(address, to: base + "/driver/unbind") }
        if let original = held.driver {
            try? write(address, to: "/sys/bus/pci/drivers/\(original)/bind")
        }
        if driver(address) == nil { try? write(address, to: "/sys/bus/pci/drivers_probe") }
    }

    private func bindToVFIO(_ address: String, from current: String?) throws {
        let base = "/sys/bus/pci/devices/\(address)"
        guard current != "vfio-pci" else { return }
        // driver_override: only vfio-pci may take it, also when the old driver is probed again.
        try write("vfio-pci", to: base + "/driver_override")
        if current != nil { try write(address, to: base + "/driver/unbind") }
        try? write(address, to: "/sys/bus/pci/drivers_probe")
        let deadline = Date().addingTimeInterval(5)
        while driver(address) != "vfio-pci" {
            guard Date() < deadline else {
                throw HVError(
                    .io, "\(address) did not bind to vfio-pci (its driver is \(driver(address) ?? "none"))",
                    hint: "see `dmesg` for the kernel's reason; the device was given back to \(current ?? "no driver")")
            }
            usleep(20_000)
        }
    }

    /// vfio-pci, and the IOMMU backend QEMU's container needs (vfio names it
    /// only as a soft dependency, which not every modprobe follows).
    private func loadVFIO() throws {
        let loaded = { ["/sys/bus/pci/drivers/vfio-pci", "/sys/module/vfio_iommu_type1"].allSatisfy { FileManager.default.fileExists(atPath: sysRoot + $0) } }
        guard !loaded() else { return }
        let r = try Command.run(["modprobe", "-a", "vfio-pci", "vfio_iommu_type1"], timeout: 20)
        guard r.status == 0, loaded() else {
            throw HVError(
                .unsupported, "the vfio-pci driver is not available: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))",
                hint: "install the kernel's modules (vfio-pci is in Debian's linux-image packages) and check `modprobe vfio-pci`")
        }
    }

    private func waitFor(_ node: String) throws {
        let deadline = Date().addingTimeInterval(5)
        while !FileManager.default.fileExists(atPath: sysRoot + node) {
            guard Date() < deadline else { throw HVError(.io, "\(node) did not appear after binding to vfio-pci") }
            usleep(20_000)
        }
    }

    public func driver(_ address: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: sysRoot + "/sys/bus/pci/devices/\(address)/driver"))
            .map { URL(fileURLWithPath: $0).lastPathComponent }
    }

    private func write(_ text: String, to path: String) throws {
        try SysFS(root: sysRoot).write(text, to: path)
    }

    /// A device node's owner and mode, by path: never through a link, and
    /// only a character device (a guest must not be handed anything else).
    /// Opening would not do: a VFIO group may be open only once.
    static func setOwner(_ path: String, uid: uid_t, gid: gid_t, mode: mode_t) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw HVError.posix("cannot find \(path)", errno: errno) }
        guard st.st_mode & S_IFMT == S_IFCHR else {
            throw HVError(.conflict, "\(path) is not a device node", hint: "something replaced it; hv hands only device nodes to a guest")
        }
        guard lchown(path, uid, gid) == 0, chmod(path, mode) == 0 else {
            throw HVError.posix("cannot give \(path) to user \(uid)", errno: errno)
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
