import Foundation
import HVCore
import HVEvents

/// How one guest is wired into the communication subsystem: its network
/// card on the VMF network, its shared-memory regions and its doorbell for
/// events. Decided from the loaded hypervisor configuration; turned into
/// QEMU arguments by `QemuCommandLine` and told to the guest in one line of
/// words (`hv.net=… hv.shm=… hv.ev=…`) on its kernel command line (RT-Linux)
/// or in fw_cfg `opt/hv/comm` (KVM guests).
public struct CommPlan: Sendable, Equatable, Codable {
    public struct Region: Sendable, Equatable, Codable {
        public var name: String
        public var path: String
        public var bytes: Int
        /// The PCI slot of its ivshmem-plain device (the guest finds the region by it).
        public var slot: Int
    }

    /// The descriptor numbers of its TAP on the VMF network's bridge and of
    /// /dev/vhost-net (InheritedFD: hvd opens both, QEMU inherits them);
    /// set by whoever knows what else the guest inherits before them.
    public var tapFD: Int32 = 0
    public var vhostFD: Int32? = nil
    public var mac: String
    /// "10.77.0.1/24"
    public var address: String?
    /// The host's address on the VMF network: the guest's clock and package sources.
    public var hostAddress: String?
    public var regions: [Region]
    /// One doorbell device per set of events the guest is in: the set's
    /// ivshmem server and the PCI slot the guest finds its table at.
    public struct Doorbell: Sendable, Equatable, Codable {
        public var socket: String
        public var slot: Int
    }
    /// Its doorbells (empty: no events for this guest).
    public var doorbells: [Doorbell]

    public static let firstRegionSlot = 0x10
    /// The first set's doorbell; the next sets' count down from it
    /// (at most `CommunicationConfig.maxEventSetsPerGuest`).
    public static let firstEventsSlot = 0x0f

    public init?(folder: String, config: CommunicationConfig, layout: HostLayout) {
        let member = config.member(folder)
        let regions = config.regions(of: folder)
        let sets = config.eventSets(of: folder)
        guard member != nil || !regions.isEmpty || !sets.isEmpty else { return nil }
        mac = Self.mac(folder)
        address = member.map { "\($0.address)/\(config.network.prefix)" }
        hostAddress = member.map { _ in config.network.hostAddress.description }
        self.regions = regions.enumerated().map { i, r in
            Region(name: r.name, path: layout.sharedRegion(r.name).path, bytes: r.bytes, slot: Self.firstRegionSlot + i)
        }
        doorbells = sets.enumerated().map { i, set in
            Doorbell(socket: layout.ivshmemSocket(set: set.number).path, slot: Self.firstEventsSlot - i)
        }
    }

    /// The memory its QEMU maps for them: the regions, and its sets' events tables.
    public var sharedBytes: UInt64 {
        UInt64(regions.reduce(0) { $0 + $1.bytes }) + UInt64(doorbells.count * EventTable.regionSize)
    }

    /// On the VMF network: it has a card there (and so a TAP to inherit).
    public var isOnNetwork: Bool { address != nil }

    /// Needs PCI (ivshmem): an RTOS guest then runs on `microvm,pcie=on`.
    public var needsPCI: Bool { !regions.isEmpty || !doorbells.isEmpty }

    /// What the guest reads to configure itself.
    public var guestWords: String {
        var w: [String] = []
        if let address { w.append("hv.net=\(mac),\(address)") }
        if let hostAddress { w.append("hv.host=\(hostAddress)") }
        if !regions.isEmpty { w.append("hv.shm=" + regions.map { "\($0.name)@\(String(format: "%02x", $0.slot))" }.joined(separator: ",")) }
        if !doorbells.isEmpty { w.append("hv.ev=" + doorbells.map { String(format: "%02x", $0.slot) }.joined(separator: ",")) }
        return w.joined(separator: " ")
    }

    public static func mac(forFolder folder: String) -> String { mac(folder) }

    /// A stable, locally administered MAC for the guest's card on the VMF network.
    static func mac(_ folder: String) -> String {
        var h: UInt32 = 2_166_136_261
        for b in ("vmf:" + folder).utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return String(format: "52:54:01:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff)
    }

    /// The QEMU arguments; `nic` is the network card model for this guest.
    public func qemuArgs(nic: String) -> [String] {
        var a: [String] = []
        if isOnNetwork {
            let vhost = vhostFD.map { ",vhost=on,vhostfd=\($0)" } ?? ""
            a += ["-netdev", "tap,id=vmfnet,fd=\(tapFD)\(vhost)", "-device", "\(nic),netdev=vmfnet,mac=\(mac)"]
        }
        for (i, r) in regions.enumerated() {
            a += [
                "-object", "memory-backend-file,id=hvshm\(i),mem-path=\(esc(r.path)),size=\(r.bytes),share=on",
                "-device", "ivshmem-plain,memdev=hvshm\(i),addr=\(String(format: "0x%02x", r.slot))",
            ]
        }
        for (i, d) in doorbells.enumerated() {
            let id = i == 0 ? "hvevents" : "hvevents\(i)"
            a += [
                "-chardev", "socket,id=\(id),path=\(esc(d.socket))",
                "-device", "ivshmem-doorbell,chardev=\(id),vectors=1,addr=\(String(format: "0x%02x", d.slot))",
            ]
        }
        return a
    }
}
