import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import QMP

#if canImport(Glibc)
import Glibc
#endif

extension GuestSupervisor {
    /// The guest's screen as a PNG, written by QEMU (QMP screendump) into the
    /// guest's run directory; the client copies it where the user wants it.
    func screenshot() throws -> ScreenshotResult {
        let (q, rec, current) = shared.withLock { ($0.qmp, $0.record, $0.state) }
        guard let q, let rec, current == .running || current == .stalled || current == .starting else {
            throw HVError(
                .conflict, "guest \(folder.name) is not running, so it has no screen to save",
                hint: "start it with hv_guest_start")
        }
        guard rec.display != nil else {
            throw HVError(
                .unsupported, "\(rec.name) is an RTOS guest without a screen: its console is the serial line",
                hint: "open it with hv_guest_console; its output is in \(folder.consoleLog.path)")
        }
        let path = folder.screendump.path
        unlink(path)
        try q.execute("screendump", ["filename": .string(path), "format": .string("png")], timeout: 30)
        // QEMU (the guest's user) wrote it: read without following a link, bounded,
        // and hand the client a copy in root's own run folder.
        guard let data = try? GuestWritten.readData(folder.screendump, maxBytes: 64 << 20), let size = PNGHeader.size(data) else {
            throw HVError(.io, "QEMU wrote no PNG to \(path)", hint: "see \(folder.qemuLog.path)")
        }
        let copy = folder.runDir.appendingPathComponent("screen.png")
        try AtomicFile.write(data, to: copy, mode: 0o600)
        unlink(path)
        return ScreenshotResult(path: copy.path, width: size.width, height: size.height)
    }
}

/// The width and height a PNG declares (its IHDR chunk).
enum PNGHeader {
    static func size(_ data: Data) -> (width: Int, height: Int)? {
        let b = [UInt8](data.prefix(24))
        guard b.count == 24, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], b[12..<16] == Array("IHDR".utf8)[...] else {
            return nil
        }
        func be32(_ i: Int) -> Int { b[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }
}

extension GuestSupervisor {
    /// Deletes this (stopped) guest after the caller confirmed the plan; one operation at a time.
    func delete(confirmed: Bool) throws -> DeleteResult {
        let plan = try DeletionPlan.make(layout: ctx.layout, folder: folder.name)
        guard confirmed else {
            throw HVError(
                .needsConfirmation, "deleting \(folder.name) removes: " + plan.goes.joined(separator: "; "),
                hint: "show this to the user and send {\"confirm\": true}")
        }
        let backup = try whileStopped("deleted") {
            ExchangeFolder.release(folder)
            return try plan.perform(layout: ctx.layout)
        }
        ctx.log.info("\(folder.name): deleted; saved in \(backup.path)")
        return DeleteResult(message: "Deleted guest \(folder.name); saved in \(backup.path)", backup: backup.path)
    }
}
