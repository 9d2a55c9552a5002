import Foundation
import HVCore
import HVEngine
import Testing

@testable import HVDaemon

#if canImport(Glibc)
import Glibc
#endif

/// A guest QEMU pauses at a write its disk's file system has no room for
/// (the stand-in's `disk-full` mode plays QEMU's BLOCK_IO_ERROR, STOP,
/// "io-error" and RESUME): hvd says so, lets it run on once there is room
/// (the stand-in's folder is on /tmp, which has), and a new hvd finds a
/// guest that was paused while no hvd listened.
@Suite(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
struct PausedGuestTests {
    typealias Scratch = SupervisorTests.Scratch

    @Test func aGuestPausedForRoomIsSaidAndRunsOnWhenThereIsRoom() throws {
        let host = try Scratch()
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "disk-full")
        _ = try sup.start(wait: true, timeout: 20)
        host.remember(sup)
        #expect(host.waitUntil(10) { sup.status().paused != nil }, "the pause is seen")
        let paused = host.events(.paused)
        #expect(paused.count == 1 && paused[0].detail.contains("no space left") && paused[0].detail.contains("hv guest resume"), "\(paused)")
        #expect(sup.status().state == .running, "a paused guest is still a running one (its QEMU is there)")
        // (The gauge hv_guest_paused reads the statuses of hvd's own supervisors; this one is the test's.)
        let metrics = host.ctx.metricsText()
        #expect(metrics.contains("hv_guest_pauses_total{guest=\"\(host.folder.name)\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("pause") })")
        // /tmp has room: the watch lets it run on by itself.
        #expect(host.waitUntil(10) { sup.status().paused == nil }, "resumed once there was room")
        #expect(host.events(.resumed).count == 1)
        let refused = #expect(throws: HVError.self) { try sup.resume() }
        #expect(refused?.code == .conflict && refused?.message.contains("is not paused") == true)
    }

    @Test func aNewDaemonFindsAGuestPausedWhileNoneListened() throws {
        let host = try Scratch()
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "disk-full")
        _ = try sup.start(wait: true, timeout: 20)
        host.remember(sup)
        try #require(host.waitUntil(10) { sup.status().paused != nil })
        // hvd ends before its watch looks for room (it waits 2 s first).
        host.endDaemon(of: sup)
        let (ctx, adopted) = host.newDaemonAdopting()
        #expect(adopted.status().paused != nil, "the new hvd asked QEMU (query-status: io-error)")
        #expect(ctx.events.after(0, wait: 0).events.contains { $0.kind == .paused && $0.detail.contains("adopted") })
        let resumed = try adopted.resume()
        #expect(resumed.message.contains("runs again"), "\(resumed.message)")
        #expect(host.waitUntil(5) { adopted.status().paused == nil })
    }
}
