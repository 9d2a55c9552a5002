import Foundation
import HVCore
import HVEngine
import CHVSys
#if canImport(Glibc)
import Glibc
#endif

/// Named events as ivshmem doorbells. Debian ships no ivshmem-server, so hvd
/// serves the protocol (QEMU's docs/specs/ivshmem-spec.rst) on
/// `run/ivshmem.sock`: every guest's `ivshmem-doorbell` device connects,
/// gets an ID, the events table as its shared memory, and one eventfd per
/// peer. hvd is a peer itself (the host), so the host can ring guests and
/// be rung.
///
/// An event is a slot in the table (`EventTable`): a name, a counter and a
/// bitmap of the peers waiting on it. Signalling increments the counter and
/// rings every waiting peer; a waiter compares the counter with what it saw.
final class IvshmemServer: Sendable {
    let socketPath: String
    let table: EventMemory
    let hostID: Int64 = 0
    private let hostEventFD: Int32

    private struct Peer { var eventfd: Int32; var conn: UnixSocket? }
    private struct State {
        var listener: UnixSocket?
        /// Peer id → its eventfd (vector 0) and, for guests, its connection.
        var peers: [Int64: Peer] = [:]
        var running = true
        var nextID: Int64 = 1
        /// Event index → waits through hvd in progress.
        var hostWaits: [Int: Int] = [:]
    }
    private let state: Monitor<State>

    init(socketPath: String, table: EventMemory) throws {
        self.socketPath = socketPath
        self.table = table
        hostEventFD = hv_eventfd()
        guard hostEventFD >= 0 else { throw HVError.posix("eventfd", errno: errno) }
        state = Monitor(State(peers: [0: Peer(eventfd: hostEventFD, conn: nil)]))
        table.setHostPeer(UInt32(hostID))
    }

    func start() throws {
        let l = try UnixSocket.listen(at: socketPath)
        HostPermissions.shareSocket(URL(fileURLWithPath: socketPath))
        state.withLock { $0.listener = l }
        Thread.detachNewThread { [self] in acceptLoop(l) }
        Thread.detachNewThread { [self] in hostLoop() }
    }

    /// Ends the server and every connection to it: a host program's session
    /// learns it is over, and a guest's QEMU keeps running without doorbells,
    /// as when hvd dies (the protocol has no reconnect).
    func stop() {
        let listener = state.withLock { s -> UnixSocket? in
            s.running = false
            for p in s.peers.values { p.conn?.shutdown() }
            return s.listener
        }
        listener?.shutdown()
        listener?.close()
        unlink(socketPath)
    }

    /// More doorbell connections than guests could ever need are refused:
    /// each costs hvd an eventfd and a thread.
    static let maxPeers = 64

    private func acceptLoop(_ l: UnixSocket) {
        while let conn = try? l.accept() {
            // Under the lock: the id, and copies of the descriptors to hand out (a peer
            // leaving meanwhile closes its own, whose number could then be reused).
            let joined = state.withLock { s -> (id: Int64, fd: Int32, others: [(Int64, Int32, UnixSocket?)])? in
                // Waiter entries hold id + 1 in 16 bits: an id past that could not be rung.
                guard s.running, s.peers.count <= Self.maxPeers, s.nextID < Int64(UInt16.max) else { return nil }
                // Ids only grow: QEMU frees a departed peer's state and cannot take its id again.
                let id = s.nextID
                s.nextID += 1
                let fd = hv_eventfd()
                guard fd >= 0 else { return nil }
                let others = s.peers.sorted { $0.key < $1.key }.map { ($0.key, dup($0.value.eventfd), $0.value.conn) }
                s.peers[id] = Peer(eventfd: fd, conn: conn)
                return (id, dup(fd), others)
            }
            guard let joined else { conn.close(); continue }
            // 1–3: version, id, the shared memory; then the others' doorbells; last our own.
            _ = hv_send_fd(conn.fd, 0, -1)
            _ = hv_send_fd(conn.fd, joined.id, -1)
            _ = hv_send_fd(conn.fd, -1, table.fd)
            for (peer, fd, other) in joined.others {
                _ = hv_send_fd(conn.fd, peer, fd)
                if let other { _ = hv_send_fd(other.fd, joined.id, joined.fd) }
                close(fd)
            }
            _ = hv_send_fd(conn.fd, joined.id, joined.fd)
            close(joined.fd)
            Thread.detachNewThread { [self] in watch(conn, id: joined.id) }
        }
    }

    /// A client never writes; its socket closing means the guest is gone.
    private func watch(_ conn: UnixSocket, id: Int64) {
        while let d = try? conn.read(), !d.isEmpty {}
        let others = state.withLock { s -> [UnixSocket] in
            if let gone = s.peers.removeValue(forKey: id) { close(gone.eventfd) }
            return s.peers.values.compactMap(\.conn)
        }
        table.forget(peer: UInt32(id))
        for c in others { _ = hv_send_fd(c.fd, id, -1) }
        conn.close()
    }

    /// The host's doorbell: wakes whoever waits in `wait`. QEMU makes the
    /// eventfd non-blocking (the descriptor is shared), so poll before reading.
    private func hostLoop() {
        var value: UInt64 = 0
        var budget = WakeBudget()
        while true {
            var p = pollfd(fd: hostEventFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 500)
            if ready > 0 {
                _ = read(hostEventFD, &value, 8)
                budget.spend()
            }
            // Leaving the lock wakes every wait to look at its counter.
            guard state.withLock({ $0.running }) else { break }
        }
    }

    /// Increments the event and rings every peer waiting on it; returns the new count.
    func signal(_ index: Int) -> UInt64 {
        let count = table.increment(index)
        let waiters = table.waiters(index)
        var one: UInt64 = 1
        // Written under the lock: a departing peer's descriptor is closed under it too, and could be reused.
        state.withLock { s in
            for w in waiters { if let fd = s.peers[Int64(w)]?.eventfd { _ = write(fd, &one, 8) } }
        }
        return count
    }

    /// Waits until the event's counter passes `seen` (or the deadline); returns the counter.
    /// hvd is a waiter of the event only while someone waits through it: a
    /// guest's signal rings only those who wait (a host session on the
    /// doorbells would otherwise be rung after hvd, for nothing).
    func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64? {
        let deadline = Date().addingTimeInterval(timeout)
        state.withLock { s in
            s.hostWaits[index, default: 0] += 1
            table.addWaiter(index, peer: UInt32(hostID))
        }
        return state.wait(until: deadline, for: { [table] s in table.counter(index) > seen || !s.running }) { s in
            s.hostWaits[index, default: 1] -= 1
            if s.hostWaits[index] == 0 { table.removeWaiter(index, peer: UInt32(hostID)) }
            let c = table.counter(index)
            return c > seen ? c : nil
        }
    }

    var peerCount: Int { state.withLock { $0.peers.count - 1 } }
}

/// hvd's wake-ups by guests' doorbells, bounded without delaying any: up to
/// `perWindow` in a millisecond pass at once; past that the loop sleeps out
/// the millisecond (a guest ringing without pause gets ~10,000 a second).
struct WakeBudget {
    static let perWindow = 10
    static let window: UInt64 = 1_000_000
    private let now: () -> UInt64
    private let sleep: (UInt64) -> Void
    private var windowStart: UInt64
    private var spent = 0

    /// Clock and sleep in nanoseconds (the monotonic clock and usleep unless a test says otherwise).
    init(now: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
         sleep: @escaping (UInt64) -> Void = { usleep(useconds_t($0 / 1000)) }) {
        self.now = now
        self.sleep = sleep
        windowStart = now()
    }

    /// One wake-up; true when it had to sleep first.
    @discardableResult
    mutating func spend() -> Bool {
        let t = now()
        if t &- windowStart >= Self.window { windowStart = t; spent = 0 }
        spent += 1
        guard spent > Self.perWindow else { return false }
        sleep(Self.window - (t &- windowStart))
        windowStart = now()
        spent = 0
        return true
    }
}
