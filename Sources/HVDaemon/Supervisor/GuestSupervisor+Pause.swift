import Foundation
import HVAPI
import HVCore
import HVEngine
import QMP

#if canImport(Glibc)
import Glibc
#endif

/// A guest whose disk cannot grow (its file system is full): QEMU stops the
/// guest at the failed write (werror=enospc, its default) rather than
/// handing the guest an I/O error, so nothing is corrupted. hvd hears it
/// (BLOCK_IO_ERROR, or "io-error" when it adopts), says so (status, event,
/// metrics), keeps the heartbeat watch from taking the pause for a hung
/// guest, and lets it run on (`cont`) once the file system has room again,
/// or when `hv guest resume` asks.
extension GuestSupervisor {
    /// Room a file system must have again before hvd resumes a guest on it by itself.
    static let resumeRoomBytes: UInt64 = 64 << 20

    /// QMP's word of a failed write that stopped the guest.
    func noteIOError(_ event: QMPEvent, generation gen: Int) {
        guard event.data["action"]?.string == "stop" else { return }
        let reason = event.data["reason"]?.string ?? "I/O error"
        let noSpace = event.data["nospace"]?.bool ?? false
        pause(
            generation: gen, why: noSpace ? "no space left on the file system of its disk" : "its disk failed a write (\(reason))",
            forRoom: noSpace)
    }

    /// Marks the guest paused (once per pause) and says so; a pause for room
    /// is watched, and ended once there is room again (another I/O error waits for the user).
    func pause(generation gen: Int, why: String, forRoom: Bool) {
        let (first, disk) = shared.withLock { s -> (Bool, String?) in
            guard gen == s.generation, s.state.isActive, s.paused == nil else { return (false, nil) }
            s.paused = why
            return (true, s.record?.diskImage)
        }
        guard first else { return }
        let place = diskPlace(disk)
        let after =
            forRoom
            ? "it runs on by itself once \(place) has \(Self.resumeRoomBytes >> 20) MiB free again, or with `hv guest resume \(folder.name)`"
            : "see \(folder.qemuLog.path); `hv guest resume \(folder.name)` lets it try again"
        ctx.events.post(.paused, guest: folder.name, "QEMU paused the guest: \(why) (\(disk ?? folder.url.path)); " + after)
        if forRoom { startResumeWatch(generation: gen, place: place) }
    }

    /// QEMU let the guest run again (hvd's `cont`, or anyone's).
    func noteResumed(generation gen: Int) {
        let was = shared.withLock { s -> String? in
            guard gen == s.generation else { return nil }
            defer { s.paused = nil }
            return s.paused
        }
        if let was { ctx.events.post(.resumed, guest: folder.name, "runs again (it was paused: \(was))") }
    }

    /// Every 2 s while paused: room again on `place` → `cont`.
    private func startResumeWatch(generation gen: Int, place: String) {
        let t = Thread { [self] in
            while true {
                sleep(2)
                let (current, paused, qmp) = shared.withLock { s in (gen == s.generation && s.state.isActive, s.paused, s.qmp) }
                guard current, paused != nil, let qmp else { return }
                guard let free = Self.freeBytes(place), free >= Self.resumeRoomBytes else { continue }
                _ = try? qmp.execute("cont")
            }
        }
        t.name = "resume-\(folder.name)"
        t.start()
    }

    /// `hv guest resume`: lets a paused guest run; refused (and nothing done)
    /// when it is not paused or its disk's file system is still full.
    func resume() throws -> ActionResult {
        let (paused, qmp, disk) = shared.withLock { ($0.paused, $0.qmp, $0.record?.diskImage) }
        guard let paused else {
            throw HVError(.conflict, "\(folder.name) is not paused", hint: "hv guest status \(folder.name) says how it is")
        }
        guard let qmp else { throw HVError(.io, "\(folder.name) has no QMP connection to resume it through") }
        let place = diskPlace(disk)
        if paused.hasPrefix("no space"), let free = Self.freeBytes(place), free < (1 << 20) {
            throw HVError(
                .unsupported, "the file system of \(place) is still full (\(free >> 10) KiB free): the guest would pause again at once",
                hint: "free space there (old console logs, backups, disk images you no longer need), then resume")
        }
        try qmp.execute("cont")
        return ActionResult(message: "\(folder.name) runs again (it was paused: \(paused))", guest: status())
    }

    /// An adopted guest may have been paused while no hvd listened.
    func checkPausedAtAdoption(generation gen: Int) {
        guard let qmp = shared.withLock({ $0.qmp }), let status = try? qmp.execute("query-status") else { return }
        guard status["status"]?.string == "io-error" else { return }
        let disk = shared.withLock { $0.record?.diskImage }
        let place = diskPlace(disk)
        let full = (Self.freeBytes(place) ?? 0) < Self.resumeRoomBytes
        pause(
            generation: gen,
            why: full
                ? "no space left on the file system of its disk (found paused when this hvd adopted it)"
                : "its disk failed a write (found paused when this hvd adopted it)", forRoom: full)
    }

    /// The folder whose file system the guest's disk grows on (its own folder when it has no disk).
    func diskPlace(_ disk: String?) -> String {
        disk.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? folder.url.path
    }

    /// Room a start needs where hvd keeps the guest's records and its console log.
    static let startRoomBytes: UInt64 = 2 << 20

    /// A start on a full file system would run a guest whose record hvd cannot
    /// keep (a new hvd would not find it): refused first, with what to free.
    func checkRoomToStart() throws {
        for place in [ctx.layout.runDir, folder.url] {
            guard let free = Self.freeBytes(place.path), free < Self.startRoomBytes else { continue }
            throw HVError(
                .insufficientResources,
                "no room to start \(folder.name): the file system of \(place.path) is full (\(free >> 10) KiB free; hvd keeps the guest's record and console log there)",
                hint: "free space there (old backups in backup/, snapshots, console logs, disk images no longer needed), then start again; nothing was started")
        }
    }

    static func freeBytes(_ path: String) -> UInt64? { FreeSpace.bytes(at: path) }
}
