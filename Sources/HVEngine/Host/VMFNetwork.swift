import CHVSys
import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// The VMF network: a Linux bridge inside hv's own network namespace, with
/// a TAP per guest that hvd opens and the guest's QEMU inherits (as for a
/// bridged KVM guest: QEMU stays unprivileged and needs no /dev/net/tun).
/// Frames go from QEMU to QEMU through the kernel, so nothing of hv is in
/// their path: hvd may die, restart or be upgraded and no frame is lost; a
/// new hvd finds the bridge and rules as the old one left them.
///
/// The namespace holds the bridge, the TAPs, the host's seat (the bridge's
/// own address, `hv net attach`) and in bridge mode a macvlan of the host
/// interface; it has no route anywhere, so the network is never routed off
/// the host. An nftables table in it (`bridge hv_vmf`) lets each TAP send
/// only with its guest's MAC. Unloading the VMF deletes the namespace, and
/// everything in it with it; the guests' TAPs go with their QEMUs.
public struct VMFNetwork: Sendable {
    public let layout: HostLayout

    public init(layout: HostLayout) { self.layout = layout }

    /// Names inside hv's namespace are hv's alone: they need no instance in them.
    public static let bridge = "vmfbr"
    static let uplink = "vmfup"
    static let table = "hv_vmf"

    /// A guest's port (its TAP) and the one MAC it may send with.
    public struct Port: Sendable, Equatable {
        public var tap: String
        public var mac: String
        public init(tap: String, mac: String) {
            self.tap = tap
            self.mac = mac
        }
    }

    /// The guest's TAP, by its number (its QEMU user's uid less GuestIdentity.uidBase).
    public static func tapName(guestNumber n: UInt32) -> String { "vmfg\(n)" }

    /// The bridge's own MAC, fixed: a bridge otherwise takes its lowest
    /// port's, so the host seat's address would move as guests come and go
    /// (and with it every guest's ARP entry for the host).
    static func hostMAC(_ layout: HostLayout) -> String {
        var h: UInt32 = 2_166_136_261
        for b in ("vmf-host:" + layout.instanceID).utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        // 52:54:02: hv's guests have 52:54:01 (CommPlan.mac), so no guest can be given it.
        return String(format: "52:54:02:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff)
    }

    var namespace: String { HostNetwork.namespace(layout) }

    /// Whether hv's namespace exists (a loaded VMF with a network, or one a dead hvd left).
    public var exists: Bool { FileManager.default.fileExists(atPath: HostNetwork.namespacePath(layout)) }

    /// Makes the namespace, the bridge and its rules, or finds them as an
    /// earlier hvd left them: every step is a no-op on what is already right,
    /// and the rules are replaced in one transaction, so the guests' frames
    /// never stop. Returns notes on what is not enforced.
    public func ensure(network: CommunicationConfig.Network, ports: [Port]) throws -> [String] {
        var notes: [String] = []
        if !exists { try ip(["netns", "add", namespace]) }
        try ip(["-n", namespace, "link", "set", "lo", "up"])
        // Nothing in here takes an address or a route from what a guest sends.
        _ = try? Command.run(
            [
                "ip", "netns", "exec", namespace, "sysctl", "-q", "-w",
                "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
            ], timeout: 10)
        if !linkExists(Self.bridge) {
            try ip(["-n", namespace, "link", "add", Self.bridge, "address", Self.hostMAC(layout), "type", "bridge"])
        }
        if let problem = applyRules(ports) { notes.append(problem) }
        try ensureUplink(network)
        try ip(["-n", namespace, "link", "set", Self.bridge, "up"])
        return notes
    }

    /// Bridge mode: the host interface joins as a macvlan in passthru mode
    /// (it keeps its place in the host's namespace; the frames it carries
    /// are the bridge's). Only an interface without an address of the host's:
    /// passthru takes its traffic from the host.
    private func ensureUplink(_ network: CommunicationConfig.Network) throws {
        guard network.mode == "bridge" else {
            if linkExists(Self.uplink) { try ip(["-n", namespace, "link", "delete", Self.uplink]) }
            return
        }
        if linkExists(Self.uplink) { return }
        let nic = network.bridgeInterface
        guard !nic.isEmpty, FileManager.default.fileExists(atPath: "/sys/class/net/\(nic)") else {
            throw HVError(
                .invalidConfig, "bridge mode: there is no host interface \"\(nic)\"",
                hint: "set \"BridgeInterface\" in [Hypervisor\\Network] of hv.config to an interface `ip link` lists, or \"Mode\"=\"switch\"")
        }
        if let address = HostNetwork.addresses(of: nic).first {
            throw HVError(
                .conflict, "bridge mode: \(nic) carries the host's address \(address); joining it to the VMF network would take that network from the host",
                hint: "name a free interface in \"BridgeInterface\" (no address), or \"Mode\"=\"switch\"")
        }
        do {
            try ip(["link", "add", Self.uplink, "link", nic, "netns", namespace, "type", "macvlan", "mode", "passthru"])
        } catch {
            throw HVError(
                .unsupported, "bridge mode: cannot join \(nic) to the VMF network: \((error as? HVError)?.message ?? "\(error)")",
                hint: "the interface must be an Ethernet device that is no other macvlan's; or set \"Mode\"=\"switch\"")
        }
        try ip(["-n", namespace, "link", "set", Self.uplink, "master", Self.bridge])
        try ip(["-n", namespace, "link", "set", Self.uplink, "up"])
    }

    /// The rules of hv's bridge: each TAP sends with its guest's MAC only
    /// (Ethernet source and ARP sender), so no guest passes for another or
    /// for the host, or fills the forwarding table; a TAP of hv's that the
    /// configuration does not list sends nothing. The uplink of bridge mode
    /// carries the other machines' frames, whatever their MACs.
    func rules(_ ports: [Port]) -> String {
        let own = ports.sorted { $0.tap < $1.tap }.map { p in
            "        iifname \"\(p.tap)\" ether saddr != \(p.mac) drop\n"
                + "        iifname \"\(p.tap)\" arp saddr ether != \(p.mac) drop\n"
                + "        iifname \"\(p.tap)\" accept\n"
        }.joined()
        let rest = "        iifname \"vmfg*\" drop\n"
        return "    chain forward {\n        type filter hook forward priority filter; policy accept;\n\(own)\(rest)    }\n"
            + "    chain input {\n        type filter hook input priority filter; policy accept;\n\(own)\(rest)    }\n"
    }

    private func applyRules(_ ports: [Port]) -> String? {
        let file = layout.vmfNetworkRules
        if let problem = NFTables.replace("bridge", Self.table, body: rules(ports), file: file, namespace: namespace) {
            return "the guests on the VMF network are not held to their own MACs: \(problem)"
        }
        return nil
    }

    /// The host's seat: the bridge's own address in hv's namespace.
    public func attachHost(_ network: CommunicationConfig.Network) throws {
        guard exists, linkExists(Self.bridge) else {
            throw HVError(
                .notFound, "the VMF network is not set up (hv's namespace \(namespace) has no bridge)",
                hint: "load the VMF again: hv_vmf_stop, then hv_vmf_start")
        }
        let want = "\(network.hostAddress)/\(network.prefix)"
        if hostAddresses() != [want] {
            try ip(["-n", namespace, "addr", "flush", "dev", Self.bridge])
            try ip(["-n", namespace, "addr", "add", want, "dev", Self.bridge])
        }
    }

    public func detachHost() {
        _ = try? ip(["-n", namespace, "addr", "flush", "dev", Self.bridge])
    }

    /// The bridge's IPv4 addresses ("10.77.0.254/24").
    public func hostAddresses() -> [String] {
        guard exists, let r = try? Command.run(["ip", "-n", namespace, "-o", "-4", "addr", "show", "dev", Self.bridge], timeout: 5),
            r.status == 0
        else { return [] }
        return r.stdout.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            return words.firstIndex(of: "inet").flatMap { i in i + 1 < words.count ? String(words[i + 1]) : nil }
        }
    }

    /// Opens the guest's TAP on the bridge, up; the descriptor is the
    /// caller's (the TAP goes when the last descriptor of it closes).
    public func openTap(_ name: String, guest: String) throws -> Int32 {
        guard exists, linkExists(Self.bridge) else {
            throw HVError(
                .notFound, "cannot put \(guest) on the VMF network: it is not set up (hv's namespace \(namespace) has no bridge)",
                hint: "load the VMF again (hv_vmf_stop, then hv_vmf_start); hv vmf status lists its notes")
        }
        let fd = Self.tapInNamespace(HostNetwork.namespacePath(layout), name: name)
        guard fd >= 0 else {
            let why = String(cString: strerror(-fd))
            throw HVError(
                fd == -EBUSY ? .conflict : .unsupported, "cannot create \(guest)'s port on the VMF network, the TAP \(name): \(why)",
                hint: fd == -EBUSY
                    ? "another process still holds \(name) (an earlier QEMU of \(guest)?): wait for it to end"
                    : "hv needs /dev/net/tun (modprobe tun) and root")
        }
        do {
            try ip(["-n", namespace, "link", "set", name, "master", Self.bridge])
            try ip(["-n", namespace, "link", "set", name, "up"])
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// /dev/vhost-net for a guest under KVM (the kernel moves its frames
    /// without QEMU's thread); nil where the host has none.
    public static func openVhost() -> Int32? {
        let fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }

    /// Deletes the namespace, and with it the bridge, its rules and the host's seat.
    public func remove() {
        guard exists else { return }
        _ = try? Command.run(["ip", "netns", "delete", namespace], timeout: 10)
        try? FileManager.default.removeItem(at: layout.vmfNetworkRules)
    }

    private func linkExists(_ name: String) -> Bool {
        (try? Command.run(["ip", "-n", namespace, "link", "show", name], timeout: 5))?.status == 0
    }

    private static func tapInNamespace(_ path: String, name: String) -> Int32 {
        HostNetwork.onThreadOfItsOwn {
            var buf = [CChar](repeating: 0, count: 16)
            for (i, c) in name.utf8CString.prefix(15).enumerated() { buf[i] = c }
            return hv_netns_tap_open(path, &buf, 1)
        }
    }

    @discardableResult
    private func ip(_ args: [String]) throws -> String { try HostNetwork.run(["ip"] + args) }
}
