import Foundation
import HVCore
import HVHost

/// What a bridged guest may put on hv's bridges: frames with the MAC hv gave
/// it only (Ethernet source and ARP sender), so it can neither pass for the
/// host or another machine nor flood the bridge's forwarding table with made
/// up addresses; and towards the host's own stack no DHCP offers and no
/// router advertisements (a guest could otherwise give the host an address
/// or a default route). Other machines on the network still get its DHCP
/// and RAs: what it may serve them is the network's business. One nftables
/// table per hv instance (`bridge hv_<instance>`), rebuilt from the TAPs in
/// run/bridges.json whenever one comes or goes, gone with the last.
struct BridgeFilter {
    let table: String
    let file: URL

    init(layout: HostLayout) {
        table = NFTables.tableName(layout)
        file = layout.bridgesRules
    }

    /// `taps`: TAP name → the guest's MAC.
    func rules(_ taps: [String: String]) -> String {
        let ports = taps.sorted { $0.key < $1.key }
        let own = ports.map { tap, mac in
            "        iifname \"\(tap)\" ether saddr != \(mac) drop\n        iifname \"\(tap)\" arp saddr ether != \(mac) drop\n"
        }.joined()
        let host = ports.map { tap, _ in
            "        iifname \"\(tap)\" ether type ip udp sport 67 drop\n        iifname \"\(tap)\" ether type ip6 icmpv6 type nd-router-advert drop\n"
        }.joined()
        return "    chain forward {\n        type filter hook forward priority filter; policy accept;\n\(own)    }\n"
            + "    chain input {\n        type filter hook input priority filter; policy accept;\n\(own)\(host)    }\n"
    }

    /// Nil, or why the guests' MACs are not enforced.
    func apply(_ taps: [String: String]) -> String? {
        guard GuestIdentity.dropsPrivileges else { return nil }
        guard !taps.isEmpty else {
            NFTables.delete("bridge", table)
            return nil
        }
        return NFTables.replace("bridge", table, body: rules(taps), file: file)
    }
}
