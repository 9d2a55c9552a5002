import CHVSys
import Foundation
import HVCore
import HVHost

/// hv's network namespace (named after the host root), where the VMF
/// network lives (VMFNetwork). The host's own namespace gets no interface
/// and no route of it, so nothing of the VMF network is ever routed
/// anywhere; `hv net exec -- CMD` runs a command in there.
public enum HostNetwork {
    public static func namespace(_ layout: HostLayout) -> String { layout.instanceID }
    /// Where iproute2 keeps the namespace (what setns opens).
    public static func namespacePath(_ layout: HostLayout) -> String { "/run/netns/" + namespace(layout) }
    /// A socket bound to address:port inside hv's namespace (UDP, or a listening TCP one). -errno on failure.
    public static func socketInNamespace(_ layout: HostLayout, address: String, port: Int, stream: Bool) -> Int32 {
        let path = namespacePath(layout)
        return onThreadOfItsOwn { hv_netns_socket(path, address, Int32(port), stream ? 1 : 0) }
    }

    /// Runs `work` on a new thread and returns its result: entering a
    /// namespace is per thread, and none of hvd's threads may be lent to it.
    static func onThreadOfItsOwn(_ work: @escaping @Sendable () -> Int32) -> Int32 {
        let result = Monitor(Int32(-EINVAL))
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let value = work()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 }
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
            // Its first line says why (busybox's ip answers an unknown verb with its whole usage).
            let why = r.stderr.split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? "exit \(r.status)"
            throw HVError(
                .io, "\(argv.joined(separator: " ")) failed: \(why)",
                hint: "hv needs iproute2 (ip) and root")
        }
        return r.stdout
    }
}

#if canImport(Glibc)
import Glibc
#endif
