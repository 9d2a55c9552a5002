import Foundation
import HVCore
import HVHost

/// hv's nftables tables: each is replaced whole, in one transaction (`nft -f`
/// with "table …; delete table …; table … { … }"), from a file root writes
/// in run/, so a table is never half there.
enum NFTables {
    static var available: Bool { Executables.find("nft") != nil }

    /// hv's table of this instance, in whichever family: `hv_<instance>`.
    static func tableName(_ layout: HostLayout) -> String {
        "hv_" + layout.instanceID.replacingOccurrences(of: "hv-", with: "")
    }

    /// Installs `body` as table `family name` (in the network namespace
    /// `namespace`, else the host's); nil, or why it could not.
    static func replace(_ family: String, _ name: String, body: String, file: URL, namespace: String? = nil) -> String? {
        guard available else { return "nft is missing (hv setup installs nftables)" }
        let script = "table \(family) \(name)\ndelete table \(family) \(name)\ntable \(family) \(name) {\n\(body)}\n"
        do {
            try AtomicFile.write(script, to: file, mode: 0o600)
            let inside = namespace.map { ["ip", "netns", "exec", $0] } ?? []
            let r = try Command.run(inside + ["nft", "-f", file.path], timeout: 20)
            return r.status == 0 ? nil : "nft refused the rules: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        } catch {
            return "nft: \(error)"
        }
    }

    static func exists(_ family: String, _ name: String) -> Bool {
        available && (try? Command.run(["nft", "list", "table", family, name], timeout: 20))?.status == 0
    }

    static func delete(_ family: String, _ name: String) {
        guard exists(family, name) else { return }
        _ = try? Command.run(["nft", "delete", "table", family, name], timeout: 20)
    }
}
