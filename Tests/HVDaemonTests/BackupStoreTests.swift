import Foundation
import Testing

@testable import HVCore
@testable import HVDaemon

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

/// Deleting RT-Linux on its Debian root treats its disk as a KVM guest's: said, and kept when it lies elsewhere.
@Suite struct RootDiskDeletionTests {
    func folder(usr: String, disk: Bool) throws -> HostLayout {
        let layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hv-delete-\(UUID().uuidString.prefix(6))"))
        let g = ExampleCatalogue.all[0].guests[0]
        let dir = layout.guest(g.folder).url
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try GuestFiles.guestConfig(g, project: "rt-linux").render().write(to: dir.appendingPathComponent("guest.config"), atomically: true, encoding: .utf8)
        try usr.write(to: dir.appendingPathComponent("usr.config"), atomically: true, encoding: .utf8)
        if disk { try Data(repeating: 1, count: 4096).write(to: dir.appendingPathComponent("disk.qcow2")) }
        return layout
    }

    @Test func theDiskInItsFolderIsNamedAndAnotherKept() throws {
        let here = try folder(usr: "", disk: true)
        defer { try? FileManager.default.removeItem(at: here.root) }
        let plan = try DeletionPlan.make(layout: here, folder: "guestrtlinux")
        #expect(plan.goes.contains { $0.contains("disk.qcow2") && $0.contains("installed system") }, "\(plan.goes)")
        let elsewhere = try folder(usr: "[Guest\\Disk]\n    \"Image\"=\"VMs/rt/root.qcow2\"\n", disk: false)
        defer { try? FileManager.default.removeItem(at: elsewhere.root) }
        let kept = try DeletionPlan.make(layout: elsewhere, folder: "guestrtlinux")
        #expect(kept.kept.contains { $0.contains("VMs/rt/root.qcow2") && $0.contains("never deletes") }, "\(kept.kept)")
        // The busybox image has no disk of its own to keep.
        let small = try folder(usr: "[Guest\\Disk]\n    \"Image\"=\"VMs/rt/root.qcow2\"\n[Guest\\Boot]\n    \"Root\"=\"busybox\"\n", disk: false)
        defer { try? FileManager.default.removeItem(at: small.root) }
        #expect(try DeletionPlan.make(layout: small, folder: "guestrtlinux").kept.isEmpty)
    }
}
