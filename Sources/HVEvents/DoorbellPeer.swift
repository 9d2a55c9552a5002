import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// A host program's own doorbell: `hv event session` joins hvd's ivshmem
/// server on its host programs' socket (`run/events-host.sock`, root's
/// only) as a guest's QEMU joins on its own, takes one of hvd's host seats,
/// and is handed the events table and every peer's eventfd once. From then on a signal is an increment in the
/// table and a write to each waiter's eventfd, and a wait sleeps on its own
/// eventfd, which the guests ring directly: no hvd, no request per event.
///
/// The server is hvd (root); the table is also every guest's, so what is read
/// from it is treated as EventMemory says. Peer ids in the table are only keys
/// into the eventfds the server announced.
public final class DoorbellPeer: EventServing {
    public let id: Int64
    public let table: EventMemory
    public var eventNames: [String] { table.names }
    private let conn: UnixSocket
    /// The eventfd the others ring for us (the seat's: hvd drains it when a program leaves).
    private let own: Int32
    /// Ours alone: wakes a wait when the server ends (a wake-up on `own` could be drained by hvd).
    private let gone: Int32

    private struct Peers {
        var eventfds: [Int64: Int32] = [:]
        /// The server ended the connection: hvd stopped or the VMF was unloaded.
        var closed = false
    }
    private let peers: Monitor<Peers>

    /// More messages than any handshake can need (64 guests, 8 seats, three headers).
    static let maxHandshake = 256
    static let maxSeatsHint = "hvd has eight; end a session or program that holds one"

    /// Joins the server at `socketPath`. `names` are the events in slot order
    /// as hvd reports them; the table must carry the same ones (it would not
    /// after a reload in between: then the join is refused, try again).
    public static func join(socketPath: String, names: [String], timeout: Double = 5) throws -> DoorbellPeer {
        let conn = try UnixSocket.connect(to: socketPath, timeout: timeout)
        let deadline = Date().addingTimeInterval(timeout)
        var others: [Int64: Int32] = [:]
        func fail(_ why: String) -> HVError {
            conn.close()
            for fd in others.values { close(fd) }
            return HVError(.io, "the events server at \(socketPath): \(why)")
        }
        func next() throws -> (Int64, Int32)? {
            do { return try receive(conn, until: deadline) } catch { throw fail("\(error)") }
        }
        guard let (version, _) = try next() else {
            throw fail("it closed the connection: every host seat is taken (\(maxSeatsHint)), or the VMF is being unloaded")
        }
        guard version == 0 else { throw fail("not ivshmem protocol version 0") }
        guard let (myID, _) = try next(), (0...Int64(UInt16.max - 1)).contains(myID) else { throw fail("no peer id") }
        guard let (minusOne, shm) = try next(), minusOne == -1, shm >= 0 else { throw fail("no shared memory") }
        let table: EventMemory
        do { table = try EventMemory(mapping: shm, names: names) } catch { throw fail("\(error)") }
        guard table.carries(names) else { throw fail("its table does not hold the events \(names.joined(separator: ", ")) (was the VMF loaded again?)") }
        // The others' doorbells, then our own (the server sends it last).
        var own: Int32 = -1
        for _ in 0..<maxHandshake {
            guard let (peer, fd) = try next() else { break }
            if peer == myID, fd >= 0 {
                own = fd
                break
            }
            if let old = others.removeValue(forKey: peer) { close(old) }
            if fd >= 0 { others[peer] = fd }
        }
        guard own >= 0 else { throw fail("no doorbell of our own in the handshake") }
        return DoorbellPeer(id: myID, table: table, conn: conn, own: own, others: others)
    }

    private init(id: Int64, table: EventMemory, conn: UnixSocket, own: Int32, others: [Int64: Int32]) {
        self.id = id
        self.table = table
        self.conn = conn
        self.own = own
        gone = hv_eventfd()
        peers = Monitor(Peers(eventfds: others))
        Thread.detachNewThread { [self] in listen() }
    }

    deinit {
        conn.close()
        close(own)
        if gone >= 0 { close(gone) }
        peers.withLock { for fd in $0.eventfds.values { close(fd) } }
    }

    /// Leaves the server (the others forget us); the peer is closed from now on.
    public func leave() { conn.shutdown() }

    public var isClosed: Bool { peers.withLock { $0.closed } }

    /// Peers joining and leaving, until the server ends the connection.
    private func listen() {
        while let message = try? Self.receive(conn, until: nil) {
            let (peer, fd) = message
            peers.withLock { p in
                if let old = p.eventfds.removeValue(forKey: peer) { close(old) }
                if fd >= 0 { if peer == id { close(fd) } else { p.eventfds[peer] = fd } }
            }
        }
        peers.withLock { $0.closed = true }
        // Wakes a wait in progress so the session can say the server is gone.
        var one: UInt64 = 1
        _ = write(gone, &one, 8)
    }

    /// One message: a little-endian 64-bit value and perhaps a descriptor; nil at the end.
    private static func receive(_ conn: UnixSocket, until deadline: Date?) throws -> (Int64, Int32)? {
        if let deadline {
            var p = pollfd(fd: conn.fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(max(0, min(deadline.timeIntervalSinceNow * 1000, 60_000)))
            guard poll(&p, 1, ms) > 0 else { throw HVError(.timeout, "the events server did not answer in time") }
        }
        var value: Int64 = 0, fd: Int32 = -1
        let n = hv_recv_fd(conn.fd, &value, &fd)
        guard n == 8 else {
            if fd >= 0 { close(fd) }
            return nil
        }
        return (Int64(littleEndian: value), fd)
    }

    // MARK: - EventServing

    public func counter(_ index: Int) -> UInt64 { table.counter(index) }

    /// Increments the event and rings every waiter but ourselves (under the
    /// lock, so a departing peer's descriptor cannot be closed and reused meanwhile).
    public func signal(_ index: Int) -> UInt64 {
        let count = table.increment(index)
        let waiters = table.waiters(index)
        var one: UInt64 = 1
        peers.withLock { p in
            for w in waiters where Int64(w) != id {
                if let fd = p.eventfds[Int64(w)] { _ = write(fd, &one, 8) }
            }
        }
        return count
    }

    /// Waits until the counter passes `seen` (or the deadline, or the server
    /// ends): registered as a waiter, asleep on our own eventfd. With every
    /// waiter entry taken nobody could ring us, so then it looks every 10 ms.
    public func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64? {
        let registered = table.addWaiter(index, peer: UInt32(id))
        let deadline = Date().addingTimeInterval(timeout)
        var drain: UInt64 = 0
        while true {
            let c = table.counter(index)
            if c > seen { return c }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 || isClosed { return nil }
            var p = [pollfd(fd: own, events: Int16(POLLIN), revents: 0), pollfd(fd: gone, events: Int16(POLLIN), revents: 0)]
            let ms = Int32(min(registered ? left : 0.01, 60) * 1000) + 1
            // The wake-up from the server's end is left unread: every later wait returns at once.
            if poll(&p, 2, ms) > 0, p[0].revents & Int16(POLLIN) != 0 { _ = read(own, &drain, 8) }
        }
    }
}
