import Foundation
import HVAPI
import HVCore
import HVHost
import Testing

@testable import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// Snapshots of a stopped guest on real qcow2 images: qemu-img makes and
/// applies them (as the guest's user where the tests run as root), qemu-io
/// writes and checks the disk's bytes.
@Suite(.serialized) struct SnapshotStoreTests {
    struct Scratch {
        let root: URL
        let folder: GuestFolder
        let store: SnapshotStore
        let disk: OfflineDisk

        init(format: DiskImage.Format = .qcow2) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-snap-\(UUID().uuidString.prefix(8))")
            let layout = HostLayout(root: root)
            try layout.ensureDirectories()
            folder = layout.guest("my guest")
            try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
            let image = DiskImage(url: folder.url.appendingPathComponent(format == .qcow2 ? "disk.qcow2" : "disk.img"), inGuestFolder: true)
            try Command.check(["qemu-img", "create", "-q", "-f", format.rawValue, image.url.path, "16M"])
            chmod(image.url.path, 0o600)
            store = SnapshotStore(folder: folder, disk: image)
            disk = OfflineDisk(url: image.url, identity: GuestIdentity.forGuest(id: 7, folder: "my guest"))
        }

        func write(_ pattern: String, vars: String, tpm: String) throws {
            try Command.check(["qemu-io", "-f", store.disk?.format.rawValue ?? "qcow2", "-c", "write -P \(pattern) 0 64k", disk.url.path])
            try Data(vars.utf8).write(to: folder.nvram)
            try FileManager.default.createDirectory(at: folder.tpmDir, withIntermediateDirectories: true)
            try Data(tpm.utf8).write(to: folder.tpmDir.appendingPathComponent("tpm2-00.permall"))
        }

        /// True when the disk's first 64 KiB all hold `pattern`.
        func holds(_ pattern: String) throws -> Bool {
            let out = try Command.run(["qemu-io", "-f", store.disk?.format.rawValue ?? "qcow2", "-c", "read -P \(pattern) 0 64k", disk.url.path])
            return out.status == 0 && !(out.stdout + out.stderr).contains("Pattern verification failed")
        }

        func text(_ url: URL) -> String? { (try? Data(contentsOf: url)).map { String(decoding: $0, as: UTF8.self) } }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    @Test func aRevertPutsDiskVariablesAndTPMBackAndKeepsWhatItReplaced() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.write("0xaa", vars: "vars-A", tpm: "tpm-A")
        let made = try s.store.create("first", running: false, disk: s.disk)
        #expect(made.contents == ["disk (qcow2 internal snapshot)", "UEFI variables", "TPM state"])
        #expect(try s.disk.tags() == ["first"])

        try s.write("0xbb", vars: "vars-B", tpm: "tpm-B")
        #expect(try s.holds("0xbb"))
        let kept = try s.store.revert("first", disk: s.disk)
        #expect(kept.hasPrefix(SnapshotName.beforeRevertPrefix))
        #expect(try s.holds("0xaa"))
        #expect(s.text(s.folder.nvram) == "vars-A")
        #expect(s.text(s.folder.tpmDir.appendingPathComponent("tpm2-00.permall")) == "tpm-A")
        #expect(s.store.interruptedRevert == nil)

        // What the revert replaced comes back the same way.
        _ = try s.store.revert(kept, disk: s.disk)
        #expect(try s.holds("0xbb"))
        #expect(s.text(s.folder.nvram) == "vars-B")

        let list = s.store.list(diskTags: try s.disk.tags())
        #expect(list.snapshots.map(\.name).contains("first"))
        #expect(list.snapshots.filter(\.automatic).count == 2)
        #expect(list.snapshots.allSatisfy { $0.complete })
        #expect(list.diskOnly.isEmpty)

        // qemu-img ran as the guest's user; the disk is root's again, as it was.
        var st = stat()
        #expect(stat(s.disk.url.path, &st) == 0 && st.st_uid == geteuid() && st.st_mode & 0o777 == 0o600)
    }

    @Test func deletingRemovesTheDiskSnapshotAndTheFolder() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.write("0x11", vars: "v", tpm: "t")
        try s.store.create("old", running: false, disk: s.disk)
        try s.store.create("new", running: false, disk: s.disk)
        try s.store.delete("old", disk: s.disk)
        #expect(try s.disk.tags() == ["new"])
        #expect(s.store.list(diskTags: nil).snapshots.map(\.name) == ["new"])
        #expect(throws: HVError.self) { try s.store.delete("old", disk: s.disk) }
    }

    @Test func badNamesAndTakenNamesChangeNothing() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.write("0x22", vars: "v", tpm: "t")
        for bad in ["", "../x", "a b", ".hidden", String(repeating: "x", count: 65), "snap/1"] {
            #expect(throws: HVError.self) { try s.store.create(bad, running: false, disk: s.disk) }
        }
        try s.store.create("one", running: false, disk: s.disk)
        #expect(throws: HVError.self) { try s.store.create("one", running: false, disk: s.disk) }
        // A disk snapshot made by hand is listed, and its name is not taken over.
        try s.disk.create("by-hand")
        #expect(throws: HVError.self) { try s.store.create("by-hand", running: false, disk: s.disk) }
        #expect(s.store.list(diskTags: try s.disk.tags()).diskOnly == ["by-hand"])
        #expect(try s.disk.tags().sorted() == ["by-hand", "one"])
        // Nothing was left half-made.
        let names = try FileManager.default.contentsOfDirectory(atPath: s.store.root.path)
        #expect(names == ["one"])
        // A revert to a snapshot that does not exist changes nothing either.
        #expect(throws: HVError.self) { try s.store.revert("none", disk: s.disk) }
        #expect(try s.disk.tags().count == 2)
    }

    @Test func aLinkTheGuestPlantedInItsTPMFolderIsNotFollowed() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.write("0x33", vars: "v", tpm: "t")
        let secret = s.root.appendingPathComponent("secret")
        try Data("root's secret".utf8).write(to: secret)
        try FileManager.default.createSymbolicLink(at: s.folder.tpmDir.appendingPathComponent("evil"), withDestinationURL: secret)
        try s.store.create("s", running: false, disk: s.disk)
        let copied = try FileManager.default.contentsOfDirectory(atPath: s.store.place("s").appendingPathComponent("tpm").path)
        #expect(copied == ["tpm2-00.permall"])
        // The snapshots are root's alone: the guests' shared folder shows no TPM state.
        var st = stat()
        #expect(stat(s.store.root.path, &st) == 0 && st.st_mode & 0o077 == 0)
    }

    @Test func aRawDiskIsCopiedWhileStoppedAndRefusedWhileRunning() throws {
        let s = try Scratch(format: .raw)
        defer { s.remove() }
        try s.write("0x44", vars: "v", tpm: "t")
        #expect(throws: HVError.self) { try s.store.create("live", running: true, disk: s.disk) }
        let made = try s.store.create("r", running: false, disk: s.disk)
        #expect(made.contents.first == "disk (a copy of the raw image)")
        try s.write("0x55", vars: "v2", tpm: "t2")
        _ = try s.store.revert("r", disk: s.disk)
        #expect(try s.holds("0x44"))
        var st = stat()
        #expect(stat(s.disk.url.path, &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    @Test func aRevertCutShortIsKnownUntilItIsRunAgain() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.write("0x66", vars: "v", tpm: "t")
        try s.store.create("base", running: false, disk: s.disk)
        // As if hvd died between the kept snapshot and the disk's revert.
        try RecordFile<SnapshotStore.Reverting>(s.store.revertMarker, what: "test").write(.init(target: "base", kept: "k"))
        #expect(s.store.interruptedRevert == "base")
        _ = try s.store.revert("base", disk: s.disk)
        #expect(s.store.interruptedRevert == nil)
    }

    @Test func noRoomIsRefusedBeforeAnythingIsCopied() throws {
        let s = try Scratch()
        defer { s.remove() }
        try s.store.ensureRoot()
        #expect(throws: HVError.self) { try s.store.checkRoom(copying: UInt64(1) << 60, diskInternal: nil) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.store.root.path).isEmpty)
    }

    @Test func aGuestWithoutADiskOrBeforeItsFirstStartHasNothingToSnapshot() throws {
        let s = try Scratch()
        defer { s.remove() }
        let none = SnapshotStore(folder: s.folder, disk: nil)
        #expect(throws: HVError.self) { try none.create("x", running: false, disk: s.disk) }
        let notYet = SnapshotStore(folder: s.folder, disk: DiskImage(url: s.folder.url.appendingPathComponent("later.qcow2"), inGuestFolder: true))
        #expect(throws: HVError.self) { try notYet.create("x", running: false, disk: s.disk) }
    }

    @Test func namesFromTheTimeAreValid() {
        #expect(SnapshotName.problem(SnapshotName.fromTime()) == nil)
        #expect(SnapshotName.problem(SnapshotName.fromTime(prefix: SnapshotName.beforeRevertPrefix)) == nil)
        #expect(OfflineDiskTags.parse(#"{"snapshots":[{"name":"a"},{"name":"b c"},{"id":"3"}]}"#) == ["a", "b c"])
        #expect(OfflineDiskTags.parse("not json") == nil)
    }
}

/// The tags parser, through its throwing form.
enum OfflineDiskTags {
    static func parse(_ s: String) -> [String]? { try? OfflineDisk.tags(fromInfo: s) }
}
