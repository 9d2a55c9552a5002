import Foundation
import Testing

@testable import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// "Is the guest running?" is "is its lock held?": looking must never
/// look like holding to someone else looking at the same moment.
struct GuestLockTests {
    private func scratchLock() -> URL {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("hv-lock-\(UUID().uuidString.prefix(8))")
    }

    @Test func aHeldLockIsSeenAndAFreedOneIsNot() throws {
        let url = scratchLock()
        defer { unlink(url.path) }
        #expect(!GuestLock.isHeld(url), "no file: nothing runs")
        let fd = try #require(try GuestLock.acquire(url))
        #expect(GuestLock.isHeld(url))
        #expect(try GuestLock.acquire(url) == nil, "a second start is refused")
        close(fd)
        #expect(!GuestLock.isHeld(url))
    }

    /// The probe of old took the lock for a moment; while it did, every other
    /// look saw a holder that was no QEMU, and a start at that moment was
    /// refused. Looks run here beside starts: every start must get the lock.
    @Test func looksAtAFreeLockNeverHoldIt() throws {
        let url = scratchLock()
        defer { unlink(url.path) }
        close(open(url.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600))
        let threads = (0..<4).map { _ in Thread { for _ in 0..<2000 { _ = GuestLock.isHeld(url) } } }
        threads.forEach { $0.start() }
        var refused = 0
        for _ in 0..<500 {
            if let fd = try GuestLock.acquire(url) { close(fd) } else { refused += 1 }
        }
        while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
        #expect(refused == 0, "a start was refused \(refused) times by nothing but looks")
    }

    @Test func theTableIsReadByDeviceAndInodeAndWaitersHoldNothing() {
        let dev: UInt64 = 0xfe00, inode: UInt64 = 16_222_046
        let held = "1: FLOCK  ADVISORY  WRITE 18106 fe:00:16222046 0 EOF\n"
        #expect(LockTable.hasFlock(in: held, device: dev, inode: inode))
        #expect(!LockTable.hasFlock(in: held, device: dev, inode: 16_222_04))
        #expect(!LockTable.hasFlock(in: held, device: 0xfe01, inode: inode))
        let waiter = "1: -> FLOCK  ADVISORY  WRITE 18107 fe:00:16222046 0 EOF\n"
        #expect(!LockTable.hasFlock(in: waiter, device: dev, inode: inode))
        let posix = "2: POSIX  ADVISORY  WRITE 18106 fe:00:16222046 0 EOF\n"
        #expect(!LockTable.hasFlock(in: posix, device: dev, inode: inode), "only hv's own kind of lock counts")
        // A large device number (major above 255) spells as the kernel does.
        let big: UInt64 = (259 << 8) | 3
        #expect(LockTable.hasFlock(in: "3: FLOCK  ADVISORY  WRITE 1 103:03:42 0 EOF", device: big, inode: 42))
        #expect(!LockTable.hasFlock(in: "", device: dev, inode: inode))
    }

    /// Any user can make the table long: it is read in pieces up to a bound, and past it the answer is "unknown".
    @Test func aLongTableIsReadInPiecesWithinItsBound() throws {
        let file = scratchLock()
        defer { unlink(file.path) }
        let other = "1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\n"
        let text = String(repeating: other, count: 5000) + "2: FLOCK  ADVISORY  WRITE 2 fe:00:42 0 EOF\n"
        try text.write(to: file, atomically: true, encoding: .utf8)
        #expect(LockTable.hasFlock(device: 0xfe00, inode: 42, path: file.path) == true, "a match past the first piece")
        #expect(LockTable.hasFlock(device: 0xfe00, inode: 43, path: file.path) == false)
        let huge = String(repeating: other, count: LockTable.maxBytes / other.utf8.count + 10)
        try huge.write(to: file, atomically: true, encoding: .utf8)
        #expect(LockTable.hasFlock(device: 0xfe00, inode: 42, path: file.path) == nil, "past the bound: not read to its end")
        #expect(LockTable.hasFlock(device: 0xfe00, inode: 42, path: "/nonexistent/locks") == nil)
    }

}
