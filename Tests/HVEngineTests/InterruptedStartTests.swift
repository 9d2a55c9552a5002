import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// hvd killed between spawning QEMU (paused) and writing state.json: the
/// next hvd ends that QEMU, and only it.
@Suite struct InterruptedStartTests {
    func scratch() throws -> GuestFolder {
        let layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hv-interrupted-\(UUID().uuidString.prefix(6))"))
        let folder = layout.guest("guestrtlinux")
        try FileManager.default.createDirectory(at: folder.qemuDir, withIntermediateDirectories: true)
        return folder
    }

    /// A stand-in QEMU: holds the guest's lock (fd 3) and names its QMP socket on its command line.
    func standIn(_ folder: GuestFolder, holdingLock: Bool, naming path: String) throws -> pid_t {
        let lock = try #require(try GuestLock.acquire(folder.lockFile))
        defer { close(lock) }
        return try Spawn.detached(
            ["/bin/sh", "-c", "while :; do sleep 1; done", path], log: folder.qemuLog,
            inheritFD: holdingLock ? lock : nil)
    }

    func exited(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid { return true }
            usleep(20_000)
        }
        return false
    }

    @Test func thePausedQEMUOfACutShortStartIsEnded() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder.url.deletingLastPathComponent().deletingLastPathComponent()) }
        let pid = try standIn(folder, holdingLock: true, naming: folder.qmpSocket.path)
        try AtomicFile.write("\(pid)\n", to: folder.startingFile, mode: 0o600)
        #expect(GuestLauncher.endInterruptedStart(folder) == pid)
        #expect(exited(pid), "the stand-in still runs")
        #expect(!FileManager.default.fileExists(atPath: folder.startingFile.path))
    }

    @Test func anotherProcessWithThatPidIsLeftAlone() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder.url.deletingLastPathComponent().deletingLastPathComponent()) }
        // Holds the lock but is not this guest's QEMU (pids are reused).
        let other = try standIn(folder, holdingLock: true, naming: "/somewhere/else.sock")
        defer {
            kill(other, SIGKILL)
            _ = exited(other)
        }
        try AtomicFile.write("\(other)\n", to: folder.startingFile, mode: 0o600)
        #expect(GuestLauncher.endInterruptedStart(folder) == nil)
        #expect(kill(other, 0) == 0, "a process that is not this guest's QEMU was killed")
    }
}
