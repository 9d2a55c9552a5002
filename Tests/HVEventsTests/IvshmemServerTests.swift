import CHVSys
import Foundation
import HVCore
import Testing

@testable import HVEvents

#if canImport(Glibc)
import Glibc
#endif

/// The ivshmem server against fake peers on real sockets.
@Suite struct IvshmemServerTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hv-comm-\(UUID().uuidString.prefix(8))")

    init() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }

    /// One ivshmem client's view: (message, fd) pairs as QEMU would read them.
    func receive(_ sock: UnixSocket, count: Int) -> [(Int64, Int32)] {
        (0..<count).map { _ in
            var value: Int64 = 0, fd: Int32 = -1
            _ = hv_recv_fd(sock.fd, &value, &fd)
            return (value, fd)
        }
    }

    @Test func theServerSpeaksQEMUsProtocolAndRingsWaiters() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let table = try EventMemory(path: dir.appendingPathComponent("events").path, names: ["ev", "other"])
        let server = try IvshmemServer(
            socketPath: dir.appendingPathComponent("ivshmem.sock").path,
            hostSocketPath: dir.appendingPathComponent("events-host.sock").path, table: table)
        try server.start()
        defer { server.stop() }
        let seats = Array(0...IvshmemServer.hostSeats)  // hvd (0) and the host programs' seats 1…8

        let a = try UnixSocket.connect(to: dir.appendingPathComponent("ivshmem.sock").path)
        // version 0, the first guest id after the seats, shared memory (-1 + fd), hvd and the seats with their doorbells, our own.
        let first = receive(a, count: 4 + seats.count)
        let idA = IvshmemServer.hostSeats + 1
        #expect(first.map(\.0) == [0, idA, -1] + seats + [idA])
        #expect(first[0].1 == -1 && first[1].1 == -1 && first.dropFirst(2).allSatisfy { $0.1 >= 0 })
        let hostBell = first[3].1, ownA = first[first.count - 1].1
        var st = stat()
        fstat(first[2].1, &st)
        #expect(Int(st.st_size) == EventTable.regionSize)

        let b = try UnixSocket.connect(to: dir.appendingPathComponent("ivshmem.sock").path)
        let second = receive(b, count: 5 + seats.count)
        #expect(second.map(\.0) == [0, idA + 1, -1] + seats + [idA, idA + 1], "ids only grow; the new peer learns all before it")
        #expect(receive(a, count: 1).map(\.0) == [idA + 1], "the first guest learns of the second")

        // Guest A waits on "ev": the host's signal rings its doorbell (its own eventfd).
        table.addWaiter(0, peer: UInt32(idA))
        #expect(server.signal(0) == 1)
        var p = pollfd(fd: ownA, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 2000) == 1, "guest A's doorbell rang")
        #expect(table.waiters(0) == [Int(idA)] && table.waiters(1).isEmpty)

        // The host waits; a guest's doorbell to peer 0 (the host's eventfd) wakes it.
        let waiter = Thread.detachNewThreadResult { server.wait(1, after: 0, timeout: 5) }
        usleep(100_000)
        _ = table.increment(1)
        var one: UInt64 = 1
        _ = write(hostBell, &one, 8)
        #expect(waiter.value(timeout: 5) == 1)

        // A peer that goes is announced to the others (id without fd) and leaves the waiters.
        a.close()
        let gone = receive(b, count: 1)
        #expect(gone.map(\.0) == [idA] && gone[0].1 == -1)
        usleep(100_000)
        #expect(table.waiters(0).isEmpty)
    }
}

extension Thread {
    /// Runs `body` on a new thread; `value(timeout:)` waits for its result.
    static func detachNewThreadResult<T: Sendable>(_ body: @escaping @Sendable () -> T) -> ThreadResult<T> {
        let r = ThreadResult<T>()
        Thread.detachNewThread { r.set(body()) }
        return r
    }
}

final class ThreadResult<T: Sendable>: @unchecked Sendable {
    private let cond = NSCondition()
    private var result: T?
    func set(_ v: T) {
        cond.lock()
        result = v
        cond.broadcast()
        cond.unlock()
    }
    func value(timeout: Double) -> T? {
        cond.lock()
        defer { cond.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while result == nil { if !cond.wait(until: deadline) { break } }
        return result
    }
}
