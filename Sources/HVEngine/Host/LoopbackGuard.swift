import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// A KVM guest on QEMU's user network reaches the host through 10.0.2.2,
/// which QEMU's slirp turns into connections to 127.0.0.1 from QEMU's own
/// sockets: the System Manager's port, other guests' loopback-only
/// `HostForward` ports, QEMU's VNC WebSockets, any loopback service. libslirp
/// can refuse that (`disable_host_loopback`), but QEMU 7.2 does not expose
/// it; so an nftables output rule refuses new connections to the loopback
/// addresses from every guest user's sockets (QEMU runs as one: see
/// GuestIdentity), with DNS left open (slirp forwards the guest's lookups
/// to the host's resolver, often 127.0.0.53). Outgoing connections
/// elsewhere and `HostForward` (connections that come in, whose replies
/// are established) pass. One table per hv instance (`hv_<instance>`),
/// replaced whole and atomically; it outlives hvd while guests run.
public struct LoopbackGuard: Sendable {
    public let table: String
    /// The ruleset as nft reads it (root's, in run/).
    let file: URL

    public init(layout: HostLayout) {
        table = NFTables.tableName(layout)
        file = layout.runDir.appendingPathComponent("loopback.nft")
    }

    /// The users' ids: every guest's QEMU, swtpm and smbd.
    static var users: ClosedRange<UInt32> { GuestIdentity.guestUsers }

    var rules: String {
        let who = "meta skuid \(Self.users.lowerBound)-\(Self.users.upperBound) ct state new"
        return """
                chain output {
                    type filter hook output priority filter; policy accept;
                    \(who) ip daddr 127.0.0.0/8 meta l4proto { tcp, udp } th dport 53 accept
                    \(who) ip6 daddr ::1 meta l4proto { tcp, udp } th dport 53 accept
                    \(who) ip daddr 127.0.0.0/8 reject
                    \(who) ip6 daddr ::1 reject
                }

            """
    }

    /// Installs (or renews) the rule; nil, or what the user must know when it cannot.
    public func install() -> String? {
        guard GuestIdentity.dropsPrivileges else { return nil }
        return NFTables.replace("inet", table, body: rules, file: file)
            .map { "guests on the user network can reach the host's loopback services (\($0))" }
    }

    public var installed: Bool { NFTables.exists("inet", table) }

    public func remove() {
        guard GuestIdentity.dropsPrivileges else { return }
        NFTables.delete("inet", table)
    }
}
