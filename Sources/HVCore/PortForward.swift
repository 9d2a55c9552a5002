import Foundation

/// A host port that QEMU's user-mode network forwards into a KVM guest
/// (`"HostForward"` in [Guest\Network]): `tcp:8080:80` listens on the host's
/// loopback, `tcp:0.0.0.0:8080:80` on every address (the plant network too).
/// QEMU runs unprivileged, so host ports below 1024 are refused.
public struct PortForward: Sendable, Equatable, Codable {
    public enum Proto: String, Sendable, Codable, CaseIterable { case tcp, udp }
    public var proto: Proto
    public var hostAddress: String
    public var hostPort: Int
    public var guestPort: Int

    public init(proto: Proto, hostAddress: String = "127.0.0.1", hostPort: Int, guestPort: Int) {
        self.proto = proto
        self.hostAddress = hostAddress
        self.hostPort = hostPort
        self.guestPort = guestPort
    }

    /// QEMU's hostfwd rule: `tcp:127.0.0.1:8080-:80`.
    public var qemuRule: String { "\(proto.rawValue):\(hostAddress):\(hostPort)-:\(guestPort)" }

    public static let expected =
        "rules such as \"tcp:8080:80\" or \"tcp:0.0.0.0:8080:80,udp:5000:5000\" (protocol:[host address:]host port:guest port; host ports from 1024)"

    /// Parses a comma-separated list; the message says which rule is wrong and why.
    public static func parseList(_ text: String) -> Result<[PortForward], ParseError> {
        var out: [PortForward] = []
        for raw in text.split(separator: ",") {
            let rule = raw.trimmingCharacters(in: .whitespaces)
            guard !rule.isEmpty else { continue }
            switch parse(rule) {
            case .success(let f):
                if let same = out.first(where: { $0.proto == f.proto && $0.hostPort == f.hostPort }) {
                    return .failure(ParseError(message: "\"\(rule)\" uses host port \(f.hostPort) again (already \(same.qemuRule))"))
                }
                out.append(f)
            case .failure(let e): return .failure(e)
            }
        }
        return .success(out)
    }

    public struct ParseError: Error, Sendable, Equatable { public var message: String }

    static func parse(_ rule: String) -> Result<PortForward, ParseError> {
        let parts = rule.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 || parts.count == 4, let proto = Proto(rawValue: parts[0].lowercased()) else {
            return .failure(ParseError(message: "\"\(rule)\" is not protocol:[host address:]host port:guest port with protocol tcp or udp"))
        }
        let address = parts.count == 4 ? parts[1] : "127.0.0.1"
        guard IPv4(address) != nil else {
            return .failure(ParseError(message: "\"\(address)\" in \"\(rule)\" is not an IPv4 address"))
        }
        guard let host = Int(parts[parts.count - 2]), let guest = Int(parts[parts.count - 1]),
            (1...65535).contains(guest), (1...65535).contains(host)
        else {
            return .failure(ParseError(message: "the ports in \"\(rule)\" must be whole numbers from 1 to 65535"))
        }
        guard host >= 1024 else {
            return .failure(ParseError(message: "host port \(host) in \"\(rule)\" is below 1024: the guest's QEMU runs unprivileged and cannot listen there"))
        }
        return .success(PortForward(proto: proto, hostAddress: address, hostPort: host, guestPort: guest))
    }
}
