import Foundation
import HVCore
import CHVSys

/// The host's seat on the VMF network: a TAP device inside a network
/// namespace that hv owns (named after the host root). The host's own
/// namespace gets no interface and no route, so nothing of the VMF network
/// is ever routed anywhere; `hv net exec -- CMD` runs a command in there.
public enum HostNetwork {
    public static func namespace(_ layout: HostLayout) -> String { layout.instanceID }
    /// Where iproute2 keeps the namespace (what setns opens).
    public static func namespacePath(_ layout: HostLayout) -> String { "/run/netns/" + namespace(layout) }
    public static func tapName(_ layout: HostLayout) -> String { "hvt" + layout.instanceID.dropFirst(3).prefix(8) }

    /// Creates the TAP, moves it into the namespace and gives it the host's
    /// address. Returns the TAP's descriptor (it disappears when that closes).
    public static func attach(_ layout: HostLayout, network: CommunicationConfig.Network) throws -> Int32 {
        let ns = namespace(layout), name = tapName(layout)
        let fd = try TapDevice.open(name, for: "the host's seat on the VMF network")
        do {
            if !(try run(["ip", "netns", "list"])).contains(ns) { _ = try run(["ip", "netns", "add", ns]) }
            _ = try run(["ip", "link", "set", name, "netns", ns])
            _ = try run(["ip", "-n", ns, "link", "set", "lo", "up"])
            _ = try run(["ip", "-n", ns, "addr", "replace", "\(network.hostAddress)/\(network.prefix)", "dev", name])
            _ = try run(["ip", "-n", ns, "link", "set", name, "up"])
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// A socket bound to address:port inside hv's namespace (UDP, or a listening TCP one):
    /// made on a thread of its own, since entering a namespace is per thread. -errno on failure.
    public static func socketInNamespace(_ layout: HostLayout, address: String, port: Int, stream: Bool) -> Int32 {
        let result = Monitor(Int32(-EINVAL))
        let done = DispatchSemaphore(value: 0)
        let path = namespacePath(layout)
        Thread.detachNewThread {
            let fd = hv_netns_socket(path, address, Int32(port), stream ? 1 : 0)
            result.withLock { $0 = fd }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 }
    }

    /// Removes the namespace (and with it anything left inside).
    public static func detach(_ layout: HostLayout) {
        _ = try? Command.run(["ip", "netns", "delete", namespace(layout)], timeout: 10)
    }

    /// The host's addresses on `interface` (global scope: "192.168.1.5/24"), from `ip`.
    public static func addresses(of interface: String) -> [String] {
        guard let r = try? Command.run(["ip", "-o", "addr", "show", "dev", interface, "scope", "global"], timeout: 5), r.status == 0 else { return [] }
        return r.stdout.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            return words.firstIndex { $0 == "inet" || $0 == "inet6" }.flatMap { i in i + 1 < words.count ? String(words[i + 1]) : nil }
        }
    }

    @discardableResult
    static func run(_ argv: [String]) throws -> String {
        let r = try Command.run(argv, timeout: 10)
        guard r.status == 0 else {
            throw HVError(.io, "\(argv.joined(separator: " ")) failed: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))",
                          hint: "hv needs iproute2 (ip) and root")
        }
        return r.stdout
    }
}

#if canImport(Glibc)
import Glibc
#endif
