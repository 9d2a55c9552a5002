import Foundation
import HVCore
import Testing

extension EndToEnd {
    /// `hv backup list|prune`: pruning names what goes and asks; without a terminal it refuses unless --yes.
    @Suite struct BackupCommand {
        @Test func pruneAsksThenKeepsTheNewest() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            for stamp in ["20261129-080000", "20261130-080000", "20261201-080000"] {
                let dir = host.layout.backupDir.appendingPathComponent(stamp).appendingPathComponent("guests/guest0001")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try "[Guest]\n".write(to: dir.appendingPathComponent("guest.config"), atomically: true, encoding: .utf8)
            }
            let list = host.run("hv", ["backup", "list", "--json"])
            let entries = try JSONDecoder().decode([BackupStore.Entry].self, from: Data(list.out.utf8))
            #expect(entries.map(\.name) == ["20261201-080000", "20261130-080000", "20261129-080000"], "\(list.all)")
            #expect(entries.allSatisfy { $0.holds == ["guests/guest0001"] })

            let refused = host.run("hv", ["backup", "prune", "--keep", "1"])
            #expect(refused.status == 7 && refused.out.contains("20261129-080000"), "\(refused.all)")
            #expect(BackupStore(layout: host.layout).entries().count == 3, "nothing deleted without an answer")
            let pruned = host.run("hv", ["backup", "prune", "--keep", "1", "--yes"])
            #expect(pruned.status == 0 && pruned.out.contains("deleted 2 backup(s)"), "\(pruned.all)")
            #expect(BackupStore(layout: host.layout).entries().map(\.name) == ["20261201-080000"])
            #expect(host.run("hv", ["backup", "prune", "--keep", "-1"]).status != 0)
        }
    }
}
