import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// A KVM guest on a host network (`"Mode"="bridge"`): its NIC is a TAP
/// device on a Linux bridge. `"Bridge"` names an existing bridge (the TAP
/// joins it) or a free host interface (hv makes a bridge over it, and removes
/// it again, interface released, when the last guest using it stops). hvd
/// opens the TAP and QEMU inherits it (libvirt's way): the unprivileged QEMU
/// needs no /dev/net/tun, and the TAP disappears with the last descriptor.
/// What hv made is written down (run/bridges.json), so a new hvd and
/// `hv_brdelall` remove exactly that and nothing of the host's own.
public struct GuestBridge: Sendable {
    public let layout: HostLayout

    public init(layout: HostLayout) { self.layout = layout }

    /// What hv made: bridges (→ the interface it enslaved) and TAPs (→ their bridge and guest).
    public struct Record: Codable, Sendable, Equatable {
        public var bridges: [String: String] = [:]
        public var taps: [String: Tap] = [:]
        public struct Tap: Codable, Sendable, Equatable {
            public var bridge: String
            public var guest: String
            /// The MAC hv gave the guest: the only one its frames may carry (BridgeFilter).
            public var mac: String?
        }
    }

    var recordFile: RecordFile<Record> { RecordFile(layout.bridgesRecord, what: "the bridges and TAPs hv made for guests") }
    /// One change to the host's links and the record at a time (guests start and stop concurrently).
    private static let changing = Monitor(())

    /// The guest's TAP: unique per hv root and guest (Linux names hold 15 characters).
    public func tapName(guestNumber n: UInt32) -> String { "hvg" + layout.instanceID.dropFirst(3).prefix(6) + String(n) }

    /// The bridge hv makes over `interface`.
    func bridgeName(over interface: String) -> String {
        var h: UInt32 = 2_166_136_261
        for b in (layout.instanceID + "/" + interface).utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return "hvb" + String(h, radix: 16)
    }

    public var record: Record {
        recordFile.value ?? Record()
    }

    private func save(_ r: Record) throws {
        try recordFile.write(r)
    }

    /// Opens the guest's TAP (it lives while a descriptor of it is open: QEMU's,
    /// once hvd has closed its own) on the bridge `interface` leads to; returns the descriptor.
    public func attach(guest: String, interface: String, tap: String, mac: String) throws -> Int32 {
        try Self.changing.withLock { _ in
            var r = record
            let bridge = try bridgeFor(interface, record: &r)
            let fd: Int32
            do {
                fd = try TapDevice.open(tap, for: "the TAP of \(guest)")
            } catch {
                // A bridge made for this start goes again: the interface is the host's.
                releaseIfUnused(bridge, record: &r)
                try? save(r)
                throw error
            }
            r.taps[tap] = .init(bridge: bridge, guest: guest, mac: mac)
            do {
                try save(r)
                // The host's stack has nothing to say on the guest's port.
                Self.disableIPv6(tap)
                try ip(["link", "set", tap, "master", bridge])
                if let problem = filter.apply(macs(r)) {
                    throw HVError(
                        .unsupported, "cannot hold \(guest) to its own MAC on the bridge: \(problem)",
                        hint: "hv setup installs nftables; nothing was started")
                }
                try ip(["link", "set", tap, "up"])
            } catch {
                close(fd)
                detachLocked(tap: tap, record: &r)
                try? save(r)
                throw error
            }
            return fd
        }
    }

    /// Removes the guest's TAP, and the bridge hv made once no TAP of hv's is on it.
    public func detach(tap: String) {
        Self.changing.withLock { _ in
            var r = record
            detachLocked(tap: tap, record: &r)
            try? save(r)
        }
    }

    private func detachLocked(tap: String, record r: inout Record) {
        _ = try? ip(["link", "delete", tap])
        if let bridge = r.taps.removeValue(forKey: tap)?.bridge { releaseIfUnused(bridge, record: &r) }
        _ = filter.apply(macs(r))
    }

    var filter: BridgeFilter { BridgeFilter(layout: layout) }

    /// The TAPs of the record with the MAC each may use.
    private func macs(_ r: Record) -> [String: String] { r.taps.compactMapValues(\.mac) }

    /// No addresses, no router advertisements taken on a link hv made.
    static func disableIPv6(_ link: String) {
        for key in ["accept_ra", "autoconf"] { try? "0\n".write(toFile: "/proc/sys/net/ipv6/conf/\(link)/\(key)", atomically: false, encoding: .utf8) }
        try? "1\n".write(toFile: "/proc/sys/net/ipv6/conf/\(link)/disable_ipv6", atomically: false, encoding: .utf8)
    }

    /// A bridge hv made goes, its interface released, once no TAP of hv's is on it.
    private func releaseIfUnused(_ bridge: String, record r: inout Record) {
        guard let nic = r.bridges[bridge], !r.taps.values.contains(where: { $0.bridge == bridge }) else { return }
        _ = try? ip(["link", "set", nic, "nomaster"])
        _ = try? ip(["link", "delete", bridge, "type", "bridge"])
        r.bridges.removeValue(forKey: bridge)
    }

    /// hv_brdelall: every bridge and TAP hv made, unless a running guest uses one.
    public func removeAll(running: Set<String>) throws -> [String] {
        try Self.changing.withLock { _ in
            var r = record
            let busy = r.taps.filter { running.contains($0.value.guest) }
            guard busy.isEmpty else {
                throw HVError(
                    .conflict,
                    "running guests use hv's bridges: " + busy.map { "\($0.value.guest) (\($0.key) on \($0.value.bridge))" }.sorted().joined(separator: ", "),
                    hint: "stop them first; their TAPs and bridges go by themselves when they stop")
            }
            var removed: [String] = []
            for tap in r.taps.keys.sorted() {
                detachLocked(tap: tap, record: &r)
                removed.append("TAP \(tap)")
            }
            for (bridge, nic) in r.bridges.sorted(by: { $0.key < $1.key }) {
                releaseIfUnused(bridge, record: &r)
                removed.append("bridge \(bridge) (over \(nic))")
            }
            try save(r)
            return removed
        }
    }

    /// The bridge for `interface`: itself when it is one, its bridge when it
    /// is already enslaved to one, else a new bridge of hv's over it — only
    /// when the interface carries no address (the host would lose it).
    private func bridgeFor(_ interface: String, record r: inout Record) throws -> String {
        let sys = "/sys/class/net/\(interface)"
        guard FileManager.default.fileExists(atPath: sys) else {
            throw HVError(
                .notFound, "there is no network interface \"\(interface)\" on this host",
                hint: "set \"Bridge\" in [Guest\\Network] to one that `ip link` lists (a bridge such as br0, or a free NIC)")
        }
        if FileManager.default.fileExists(atPath: sys + "/bridge") { return interface }
        if let master = try? FileManager.default.destinationOfSymbolicLink(atPath: sys + "/master") {
            let name = URL(fileURLWithPath: master).lastPathComponent
            guard FileManager.default.fileExists(atPath: "/sys/class/net/\(name)/bridge") else {
                throw HVError(
                    .conflict, "\(interface) is already part of \(name), which is not a bridge",
                    hint: "name the bridge or a free interface in \"Bridge\"")
            }
            return name
        }
        if let first = HostNetwork.addresses(of: interface).first {
            throw HVError(
                .conflict, "\(interface) carries the host's address \(first): bridging it would take that network from the host",
                hint: "make a bridge (br0) that holds the address and the interface, and name br0 in \"Bridge\"; or use a free interface")
        }
        let bridge = bridgeName(over: interface)
        if !FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
            try ip(["link", "add", bridge, "type", "bridge"])
        }
        r.bridges[bridge] = interface
        try save(r)
        // A bridge of hv's carries the guests, not the host: no IPv6 autoconfiguration from what they send.
        Self.disableIPv6(bridge)
        try ip(["link", "set", interface, "master", bridge])
        try ip(["link", "set", interface, "up"])
        try ip(["link", "set", bridge, "up"])
        return bridge
    }

    @discardableResult
    private func ip(_ args: [String]) throws -> String { try HostNetwork.run(["ip"] + args) }
}
