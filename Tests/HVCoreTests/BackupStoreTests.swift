import Foundation
import Testing
@testable import HVCore

/// backup/ listed newest first with what each holds; pruning removes whole backups only.
@Suite struct BackupStoreTests {
    @Test func entriesAreNewestFirstAndDeletingTakesOneBackup() throws {
        let layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hv-backup-\(UUID().uuidString.prefix(6))"))
        defer { try? FileManager.default.removeItem(at: layout.root) }
        for (stamp, folder) in [("20261130-100000", "guest0001"), ("20261201-090000", "guest0002"), ("20261201-090000-2", "guest0003")] {
            let dir = layout.backupDir.appendingPathComponent(stamp)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("guests/\(folder)"), withIntermediateDirectories: true)
            try Data(repeating: 7, count: 8192).write(to: dir.appendingPathComponent("guests/\(folder)/disk.qcow2"))
        }
        try FileManager.default.createDirectory(at: layout.backupDir.appendingPathComponent("20261130-100000/config"), withIntermediateDirectories: true)
        try "[Hypervisor]\n".write(to: layout.backupDir.appendingPathComponent("20261130-100000/config/hv.config"), atomically: true, encoding: .utf8)
        let store = BackupStore(layout: layout)
        let entries = store.entries()
        #expect(entries.map(\.name) == ["20261201-090000-2", "20261201-090000", "20261130-100000"])
        #expect(entries.last?.holds == ["guests/guest0001", "config/hv.config"])
        #expect(entries.allSatisfy { $0.bytes >= 8192 })
        try store.delete(entries[2])
        #expect(store.entries().map(\.name) == ["20261201-090000-2", "20261201-090000"])
        #expect(throws: HVError.self) { try store.delete(.init(name: "..", bytes: 0, holds: [])) }
        #expect(FileManager.default.fileExists(atPath: layout.backupDir.path))
    }
}
