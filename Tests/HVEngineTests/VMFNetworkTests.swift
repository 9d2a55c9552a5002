import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// The VMF network on the kernel here: hv's namespace, its bridge, TAPs
/// opened the way hvd opens them for QEMU, and the MAC rules. Frames are
/// written into one TAP and read from another, as two QEMUs would.
/// Needs root (a namespace, /dev/net/tun, nftables): skipped without.
@Suite(.serialized) struct VMFNetworkTests {
    static let canRun = geteuid() == 0 && FileManager.default.fileExists(atPath: "/dev/net/tun") && NFTables.available

    let root = URL(fileURLWithPath: "/tmp/hv-vmfnet-\(UUID().uuidString.prefix(6))")
    var layout: HostLayout { HostLayout(root: root) }
    var network: VMFNetwork { VMFNetwork(layout: layout) }
    static let macA = "52:54:01:00:00:0a", macB = "52:54:01:00:00:0b"
    let config = HypervisorConfig(project: "t", guests: []).communication.network

    func withNetwork(_ body: (VMFNetwork) throws -> Void) throws {
        try FileManager.default.createDirectory(at: layout.runDir, withIntermediateDirectories: true)
        defer {
            network.remove()
            try? FileManager.default.removeItem(at: root)
        }
        let ports = [VMFNetwork.Port(tap: "vmfg1", mac: Self.macA), VMFNetwork.Port(tap: "vmfg2", mac: Self.macB)]
        let notes = try network.ensure(network: config, ports: ports)
        #expect(notes.isEmpty, "\(notes)")
        try body(network)
    }

    /// A broadcast ARP request from `mac` (sender hardware address `mac` too, unless `arpSender` says otherwise).
    static func arp(from mac: String, arpSender: String? = nil) -> [UInt8] {
        let src = bytes(mac), sender = bytes(arpSender ?? mac)
        let eth = [UInt8](repeating: 0xff, count: 6) + src + [0x08, 0x06]
        let body: [UInt8] = [0, 1, 8, 0, 6, 4, 0, 1] + sender + [10, 77, 0, 1] + [UInt8](repeating: 0, count: 6) + [10, 77, 0, 2]
        return eth + body + [UInt8](repeating: 0, count: 18)
    }

    static func bytes(_ mac: String) -> [UInt8] { mac.split(separator: ":").compactMap { UInt8($0, radix: 16) } }

    /// The TAP carries the virtio-net header (10 bytes, all zero: no offload) before each frame.
    static func send(_ fd: Int32, _ frame: [UInt8]) {
        let packet = [UInt8](repeating: 0, count: 10) + frame
        #expect(write(fd, packet, packet.count) == packet.count)
    }

    /// The frames `fd` receives within `seconds`, without their headers (IPv6 and the like filtered out: only ARP).
    static func receivedARP(_ fd: Int32, seconds: Double = 0.5) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            var buf = [UInt8](repeating: 0, count: 2048)
            let n = read(fd, &buf, buf.count)
            guard n > 22 else { continue }
            let frame = Array(buf[10..<n])
            if frame[12] == 0x08 && frame[13] == 0x06 { frames.append(frame) }
        }
        return frames
    }

    @Test(.enabled(if: canRun)) func guestsReachEachOtherOnlyWithTheirOwnMAC() throws {
        try withNetwork { net in
            let a = try net.openTap("vmfg1", guest: "a"), b = try net.openTap("vmfg2", guest: "b")
            defer {
                close(a)
                close(b)
            }
            _ = Self.receivedARP(b, seconds: 0.3)
            Self.send(a, Self.arp(from: Self.macA))
            #expect(Self.receivedARP(b).count == 1, "a's honest broadcast reaches b")
            Self.send(a, Self.arp(from: Self.macB))
            #expect(Self.receivedARP(b).isEmpty, "a sending as b reaches nobody")
            Self.send(a, Self.arp(from: Self.macA, arpSender: Self.macB))
            #expect(Self.receivedARP(b).isEmpty, "an ARP that names b's MAC as its sender reaches nobody")
            Self.send(a, Self.arp(from: "52:54:01:00:00:0c"))
            #expect(Self.receivedARP(b).isEmpty, "made-up MACs reach nobody (the forwarding table stays small)")
            // A TAP of hv's that the configuration does not list is no port.
            let stranger = try net.openTap("vmfg9", guest: "x")
            defer { close(stranger) }
            Self.send(stranger, Self.arp(from: "52:54:01:00:00:09"))
            #expect(Self.receivedARP(b).isEmpty && Self.receivedARP(a, seconds: 0.1).isEmpty)
        }
    }

    /// What a new hvd does on finding the network: nothing changes for the guests.
    @Test(.enabled(if: canRun)) func aSecondEnsureAdoptsTheNetworkAsItIs() throws {
        try withNetwork { net in
            let a = try net.openTap("vmfg1", guest: "a"), b = try net.openTap("vmfg2", guest: "b")
            defer {
                close(a)
                close(b)
            }
            try net.attachHost(config)
            let address = "\(config.hostAddress)/\(config.prefix)"
            #expect(net.hostAddresses() == [address])
            let ports = [VMFNetwork.Port(tap: "vmfg1", mac: Self.macA), VMFNetwork.Port(tap: "vmfg2", mac: Self.macB)]
            #expect(try net.ensure(network: config, ports: ports).isEmpty)
            #expect(net.hostAddresses() == [address], "the host's seat stays")
            let master = TestIP.run(["-n", HostNetwork.namespace(layout), "-o", "link", "show", "vmfg2"])
            #expect(master.contains("master vmfbr"), "\(master)")
            _ = Self.receivedARP(b, seconds: 0.3)
            Self.send(a, Self.arp(from: Self.macA))
            #expect(Self.receivedARP(b).count == 1, "frames pass as before")
            net.detachHost()
            #expect(net.hostAddresses().isEmpty)
        }
    }

    /// Nothing of the VMF network is in the host's own namespace, and unloading leaves nothing.
    @Test(.enabled(if: canRun)) func theNetworkLivesInHvsNamespaceAndGoesWhole() throws {
        try FileManager.default.createDirectory(at: layout.runDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let ports = [VMFNetwork.Port(tap: "vmfg1", mac: Self.macA)]
        _ = try network.ensure(network: config, ports: ports)
        let tap = try network.openTap("vmfg1", guest: "a")
        let ns = HostNetwork.namespace(layout)
        #expect(
            !TestIP.run(["-o", "link"]).contains("vmfg1") && !TestIP.run(["-o", "link"]).contains("vmfbr"),
            "the TAP is born in hv's namespace")
        #expect(TestIP.run(["-n", ns, "-o", "link", "show", "vmfbr"]).contains(VMFNetwork.hostMAC(layout)), "the bridge keeps hv's MAC")
        let nft = (try? Command.run(["ip", "netns", "exec", ns, "nft", "list", "table", "bridge", "hv_vmf"], timeout: 10))?.stdout ?? ""
        #expect(nft.contains("iifname \"vmfg1\" ether saddr != \(Self.macA) drop"), "\(nft)")
        close(tap)
        network.remove()
        #expect(!network.exists && !TestIP.run(["netns", "list"]).contains(ns))
        #expect(!FileManager.default.fileExists(atPath: layout.runDir.appendingPathComponent("vmf-network.nft").path))
    }

    /// Bridge mode refuses what it cannot join (loopback is no Ethernet), and a name that is no interface.
    @Test(.enabled(if: canRun)) func bridgeModeRefusesWhatItCannotJoin() throws {
        try FileManager.default.createDirectory(at: layout.runDir, withIntermediateDirectories: true)
        defer {
            network.remove()
            try? FileManager.default.removeItem(at: root)
        }
        var bridged = config
        bridged.mode = "bridge"
        bridged.bridgeInterface = "lo"
        #expect(throws: HVError.self) { try network.ensure(network: bridged, ports: []) }
        bridged.bridgeInterface = "no-such-nic"
        let error = #expect(throws: HVError.self) { try network.ensure(network: bridged, ports: []) }
        #expect(error?.message.contains("no host interface \"no-such-nic\"") == true)
    }
}

enum TestIP {
    static func run(_ args: [String]) -> String {
        (try? Command.run(["ip"] + args, timeout: 10)).map { $0.stdout + $0.stderr } ?? ""
    }
}
