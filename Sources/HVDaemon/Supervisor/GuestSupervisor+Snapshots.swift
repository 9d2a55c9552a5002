import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import QMP

/// `hv guest snapshot`: the guest's snapshots (SnapshotStore), one operation
/// at a time with its starts and stops. While the guest runs QEMU makes the
/// disk's part (QMP, disks only: the RAM is not kept, and the snapshot is
/// the disk as after a power cut); while it is stopped qemu-img does, as
/// the guest's user. A revert is only for a stopped guest.
extension GuestSupervisor {
    /// The QMP name of the guest's disk (QemuCommandLine's drive ids).
    static func diskDevice(_ kind: GuestKind) -> String { kind == .kvm ? "disk0" : "hvroot" }

    /// The store, with the disk the guest runs on (or, stopped, the one its configuration names).
    func snapshotStore(runningDisk: String? = nil) throws -> (SnapshotStore, GuestConfig) {
        let config = try GuestConfig.load(from: folder)
        let disk: DiskImage?
        if let runningDisk {
            disk = DiskImage(url: URL(fileURLWithPath: runningDisk), inGuestFolder: false)
        } else {
            disk = config.kind == .kvm || config.hasRootDisk ? DiskImage.resolve(config, layout: ctx.layout, folder: folder) : nil
        }
        return (SnapshotStore(folder: folder, disk: disk), config)
    }

    /// Runs `body` as the guest's one operation: with QMP and the running
    /// disk while it runs, nil while it is stopped (and no QEMU holds its lock).
    func withDiskOperation<T>(
        _ verb: String, stoppedOnly: Bool,
        _ body: (SnapshotStore, RunningDisk?) throws -> T
    ) throws -> T {
        try shared.withLock { s in
            if s.busy { throw busy(s.state) }
            let stopped = s.state == .stopped || s.state == .crashed
            guard stopped || (!stoppedOnly && (s.state == .running || s.state == .stalled)) else {
                throw HVError(
                    .conflict, "guest \(folder.name) is \(s.state.rawValue); cannot \(verb) now",
                    hint: stoppedOnly ? "stop it first: hv guest stop \(folder.name)" : "try again once it runs or has stopped")
            }
            if stopped && GuestLock.isHeld(folder.lockFile) { throw unsupervisedQEMU }
            s.busy = true
        }
        defer { shared.withLock { $0.busy = false } }
        let (qmp, disk) = shared.withLock { s in s.state.isActive ? (s.qmp, s.record?.diskImage) : (nil, nil) }
        let config = try GuestConfig.load(from: folder)
        if let qmp {
            // A guest running without a disk of its own (RT-Linux's busybox image): a store without one says so where it matters.
            let store = try disk.map { try snapshotStore(runningDisk: $0).0 } ?? SnapshotStore(folder: folder, disk: nil)
            return try body(store, RunningDisk(qmp: qmp, device: Self.diskDevice(config.kind)))
        }
        return try body(try snapshotStore().0, nil)
    }

    func snapshots() throws -> SnapshotList {
        let (running, disk) = shared.withLock { s in (s.state.isActive ? s.qmp : nil, s.record?.diskImage) }
        let (store, config) = try snapshotStore(runningDisk: running == nil ? nil : disk)
        var tags: [String]?
        if let running {
            tags = try? RunningDisk(qmp: running, device: Self.diskDevice(config.kind)).tags()
        } else if let d = store.disk, d.format == .qcow2, d.exists {
            // qemu-img holds the disk for a moment: as the guest's one operation, so that a start
            // meanwhile is told to wait rather than find the disk locked. Busy (or held by a QEMU):
            // listed without the check.
            tags = try? whileStopped("read") { try OfflineDisk(url: d.url, identity: identity).tags() }
        }
        return store.list(diskTags: tags)
    }

    func createSnapshot(name: String?) throws -> SnapshotResult {
        if let name { try SnapshotName.check(name) }
        let identity = self.identity
        return try withDiskOperation("take a snapshot", stoppedOnly: false) { store, running in
            // Two taken within a second get names of their own.
            let chosen = name ?? store.uniqueName(SnapshotName.fromTime())
            let disk: DiskSnapshotting = running ?? OfflineDisk(url: store.disk?.url ?? folder.defaultDisk, identity: identity)
            let made = try store.create(chosen, running: running != nil, disk: disk)
            ctx.events.post(
                .snapshotTaken, guest: folder.name,
                "snapshot \(chosen): " + made.contents.joined(separator: ", ")
                    + (running != nil ? " (while it ran: disks only)" : ""))
            let how = running != nil ? " while it ran (its disk as after a power cut; the RAM is not kept)" : ""
            return SnapshotResult(message: "took snapshot \(chosen) of \(folder.name)\(how): " + made.contents.joined(separator: ", "), snapshot: made)
        }
    }

    func revertSnapshot(_ name: String, confirmed: Bool) throws -> SnapshotResult {
        let identity = self.identity
        return try withDiskOperation("revert to a snapshot", stoppedOnly: true) { store, _ in
            let plan = try store.revertPlan(name)
            guard confirmed else {
                throw HVError(.needsConfirmation, plan, hint: "show this to the user and send {\"confirm\": true}")
            }
            let kept = try store.revert(name, disk: OfflineDisk(url: store.disk?.url ?? folder.defaultDisk, identity: identity))
            ctx.events.post(.snapshotReverted, guest: folder.name, "reverted to snapshot \(name); what it replaced is kept as snapshot \(kept)")
            return SnapshotResult(
                message: "\(folder.name) is back as snapshot \(name) held it; what it replaced is kept as snapshot \(kept)",
                snapshot: store.list(diskTags: nil).snapshots.first { $0.name == name }, kept: kept)
        }
    }

    func deleteSnapshot(_ name: String, confirmed: Bool) throws -> SnapshotResult {
        let identity = self.identity
        return try withDiskOperation("delete a snapshot", stoppedOnly: false) { store, running in
            try SnapshotName.check(name)
            guard confirmed else {
                throw HVError(
                    .needsConfirmation, "deleting snapshot \(name) of \(folder.name) cannot be undone",
                    hint: "show this to the user and send {\"confirm\": true}")
            }
            let disk: DiskSnapshotting? =
                running ?? store.disk.flatMap { $0.format == .qcow2 && $0.exists ? OfflineDisk(url: $0.url, identity: identity) : nil }
            try store.delete(name, disk: disk)
            ctx.events.post(.snapshotDeleted, guest: folder.name, "deleted snapshot \(name)")
            return SnapshotResult(message: "deleted snapshot \(name) of \(folder.name)", snapshot: nil)
        }
    }

    /// A start after a revert that was cut short would boot a guest half old, half new.
    func checkNoRevertCutShort() throws {
        guard let target = try? snapshotStore().0.interruptedRevert else { return }
        throw HVError(
            .conflict, "a revert of \(folder.name) to snapshot \(target) was cut short: its disk, UEFI variables and TPM state may not belong together",
            hint: "run it again: hv guest snapshot \(folder.name) revert \(target) (what it replaced is kept as a before-revert snapshot)")
    }
}

/// A running guest's disk snapshots, made by its QEMU.
struct RunningDisk: DiskSnapshotting {
    let qmp: QMPClient
    let device: String

    func create(_ tag: String) throws {
        _ = try qmp.execute("blockdev-snapshot-internal-sync", ["device": .string(device), "name": .string(tag)], timeout: 600)
    }

    func delete(_ tag: String) throws {
        _ = try qmp.execute("blockdev-snapshot-delete-internal-sync", ["device": .string(device), "name": .string(tag)], timeout: 600)
    }

    func tags() throws -> [String] {
        let blocks = try qmp.execute("query-block").array ?? []
        let mine = blocks.first { $0["device"]?.string == device }
        return (mine?["inserted"]?["image"]?["snapshots"]?.array ?? []).compactMap { $0["name"]?.string }
    }
}
