import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Named events as ivshmem doorbells. Debian ships no ivshmem-server, so hvd
/// serves the protocol (QEMU's docs/specs/ivshmem-spec.rst) on
/// `run/ivshmem-N.sock`: each of a guest's `ivshmem-doorbell` devices connects to one,
/// gets an ID, the events table as its shared memory, and one eventfd per
/// peer. hvd is a peer itself (the host, id 0), so the host can ring guests
/// and be rung.
///
/// Host programs (`hv event session`, `include/hv/hv_events.h`) join the
/// same way on `run/events-host-N.sock` (root's only) and take one of
/// `hostSeats` seats: ids 1…N with eventfds hvd made at the start and keeps,
/// announced to every guest like any peer, never as departed. A program
/// that comes and goes therefore uses no new id (a QEMU that saw an id leave
/// frees its state and crashes when the id joins again, so guests' ids only
/// grow) and the next program on the seat is rung through the same eventfd.
///
/// An event is a slot in the table (`EventTable`): a name, a counter and the
/// peers waiting on it. Signalling increments the counter and rings every
/// waiting peer; a waiter compares the counter with what it saw.
///
/// One server serves one set of events (`CommunicationConfig.EventSet`:
/// the events that list exactly the same guests), on sockets of its own,
/// with a table of its own: a guest's QEMU joins only its sets' servers, so
/// it maps, counts, signals and rings nothing of an event it is not listed
/// for, and every peer it hears of shares all of this table's events.
///
/// The guests' socket is the group hv-qemu's, so any guest's QEMU (or a
/// process that broke out of one) can connect: each connection's peer
/// (SO_PEERCRED) must be the user of one of the set's guests
/// (`allowedUsers`), with one connection per such user, and every
/// descriptor goes out with a send deadline, so a peer that never reads is
/// dropped instead of stalling the next guest's join.
public final class IvshmemServer: Sendable {
    public let socketPath: String
    public let hostSocketPath: String
    public let table: EventMemory
    let hostID: Int64 = 0
    /// Host programs on the doorbells at once.
    static let hostSeats: Int64 = 8
    /// The guests' QEMU users that may join (nil: anyone who reaches the socket; tests).
    let allowedUsers: Set<UInt32>?
    /// A peer that takes longer than this to accept a message is dropped.
    static let sendDeadlineSeconds = 2
    private let hostEventFD: Int32
    /// Where refusals and dropped peers are said (hvd: its log).
    private let warn: @Sendable (String) -> Void

    private struct Peer {
        var eventfd: Int32
        /// A guest's connection, or the connection of the program on a seat (nil: hvd, a free seat).
        var conn: UnixSocket?
        var isSeat = false
    }
    private struct State {
        var listeners: [UnixSocket] = []
        var peers: [Int64: Peer] = [:]
        var running = true
        /// Event index → waits through hvd in progress.
        var hostWaits: [Int: Int] = [:]
        var ids: PeerIDs
        /// A guest user's connection (one each).
        var users: [UInt32: Int64] = [:]
    }
    private let state: Monitor<State>

    /// `maxID`: the largest guest peer id (waiter entries hold id + 1 in 16 bits); lower in tests.
    public init(
        socketPath: String, hostSocketPath: String, table: EventMemory, maxID: Int64 = Int64(UInt16.max) - 1,
        allowedUsers: Set<UInt32>? = nil,
        warn: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    ) throws {
        self.warn = warn
        self.socketPath = socketPath
        self.allowedUsers = allowedUsers
        self.hostSocketPath = hostSocketPath
        self.table = table
        hostEventFD = hv_eventfd()
        guard hostEventFD >= 0 else { throw HVError.posix("eventfd", errno: errno) }
        var peers = [hostID: Peer(eventfd: hostEventFD, conn: nil)]
        for seat in 1...Self.hostSeats {
            let fd = hv_eventfd()
            guard fd >= 0 else {
                let e = errno
                for p in peers.values { close(p.eventfd) }
                throw HVError.posix("eventfd", errno: e)
            }
            peers[seat] = Peer(eventfd: fd, conn: nil, isSeat: true)
        }
        state = Monitor(State(peers: peers, ids: PeerIDs(first: Self.hostSeats + 1, maxID: maxID)))
        table.setHostPeer(UInt32(hostID))
    }

    /// hvd's own doorbell and the seats' (a departed guest's was closed as it left).
    deinit {
        state.withLock { s in for p in s.peers.values { close(p.eventfd) } }
    }

    /// `share`: opens the guests' socket to the guests' QEMU group (hvd's
    /// host permissions), before anything is accepted on it.
    public func start(share: (URL) -> Void = { _ in }) throws {
        let guests = try UnixSocket.listen(at: socketPath)
        share(URL(fileURLWithPath: socketPath))
        let programs: UnixSocket
        do { programs = try UnixSocket.listen(at: hostSocketPath, mode: 0o600) } catch {
            guests.close()
            throw error
        }
        state.withLock { $0.listeners = [guests, programs] }
        Thread.detachNewThread { [self] in acceptLoop(guests, seat: false) }
        Thread.detachNewThread { [self] in acceptLoop(programs, seat: true) }
        Thread.detachNewThread { [self] in hostLoop() }
    }

    /// Ends the server and every connection to it: a host program learns it
    /// is over, and a guest's QEMU keeps running without doorbells, as when
    /// hvd dies (the protocol has no reconnect).
    public func stop() {
        let listeners = state.withLock { s -> [UnixSocket] in
            s.running = false
            for p in s.peers.values { p.conn?.shutdown() }
            return s.listeners
        }
        for l in listeners {
            l.shutdown()
            l.close()
        }
        unlink(socketPath)
        unlink(hostSocketPath)
    }

    /// More doorbell connections than guests could ever need are refused:
    /// each costs hvd an eventfd and a thread.
    static let maxPeers = 64

    private func acceptLoop(_ l: UnixSocket, seat: Bool) {
        while let conn = try? l.accept() {
            conn.setSendTimeout(seconds: Self.sendDeadlineSeconds)
            let user = conn.peerCredentials()?.uid
            // hvd's own user is every QEMU's where hvd is not root (development): not one per guest then.
            let ownUser = user == geteuid()
            if !seat, let allowedUsers, !ownUser, !(user.map(allowedUsers.contains) ?? false) {
                warn("the doorbells refused a connection from user \(user.map(String.init) ?? "unknown"), the QEMU user of no guest the events list")
                conn.close()
                continue
            }
            // Under the lock: the id, and copies of the descriptors to hand out (a peer
            // leaving meanwhile closes its own, whose number could then be reused).
            let joined = state.withLock { s -> (id: Int64, fd: Int32, others: [(Int64, Int32, UnixSocket?)])? in
                guard s.running else { return nil }
                let id: Int64
                if seat {
                    guard let free = s.peers.filter({ $0.value.isSeat && $0.value.conn == nil }).keys.min() else {
                        warn("a host program was refused the doorbells: all \(Self.hostSeats) host seats are taken")
                        return nil
                    }
                    id = free
                    s.peers[id]?.conn = conn
                } else {
                    guard s.peers.count <= Self.maxPeers + Int(Self.hostSeats) else { return nil }
                    if let user, !ownUser, let held = s.users[user] {
                        warn("the doorbells refused a second connection from user \(user) (its guest is peer \(held) already)")
                        return nil
                    }
                    guard let taken = s.ids.take() else {
                        warn("the doorbells refused a guest: every peer id is in use or known to a running guest; loading the VMF again frees them")
                        return nil
                    }
                    let fd = hv_eventfd()
                    guard fd >= 0 else {
                        s.ids.give(back: taken)
                        return nil
                    }
                    id = taken
                    s.peers[id] = Peer(eventfd: fd, conn: conn)
                    if let user, !ownUser { s.users[user] = id }
                }
                // Every peer of this set's server shares all its events.
                let known = s.peers.filter { $0.key != id }
                let others = known.sorted { $0.key < $1.key }.map { ($0.key, dup($0.value.eventfd), $0.value.conn) }
                return (id, s.peers[id].map { dup($0.eventfd) } ?? -1, others)
            }
            guard let joined else {
                conn.close()
                continue
            }
            // 1–3: version, id, the shared memory; then the others' doorbells; last our own.
            // Each within the send deadline: a peer that does not take it is cut off (its
            // watch thread then sees the end and announces its departure).
            var ok = Self.send(conn, 0, -1) && Self.send(conn, joined.id, -1) && Self.send(conn, -1, table.fd)
            for (peer, fd, other) in joined.others {
                if ok { ok = Self.send(conn, peer, fd) }
                // A seat was announced to every guest when it joined; a guest is news to all.
                if !seat, let other, !Self.send(other, joined.id, joined.fd) {
                    warn("a doorbell peer took no message for \(Self.sendDeadlineSeconds) s: dropped")
                    other.shutdown()
                }
                close(fd)
            }
            if ok { ok = Self.send(conn, joined.id, joined.fd) }
            close(joined.fd)
            if !ok {
                warn("doorbell peer \(joined.id) did not take its setup within \(Self.sendDeadlineSeconds) s: dropped")
                conn.shutdown()
            }
            Thread.detachNewThread { [self] in watch(conn, id: joined.id) }
        }
    }

    /// A client never writes; its socket closing means it is gone. A guest's
    /// departure is announced; a seat is only made free again (its eventfd
    /// drained, its waits forgotten) for the next program.
    private func watch(_ conn: UnixSocket, id: Int64) {
        while let d = try? conn.read(), !d.isEmpty {}
        let announce = state.withLock { s -> [UnixSocket] in
            guard let peer = s.peers[id] else { return [] }
            table.forget(peer: UInt32(id))
            if peer.isSeat {
                s.peers[id]?.conn = nil
                var value: UInt64 = 0
                var p = pollfd(fd: peer.eventfd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 0) > 0 { _ = read(peer.eventfd, &value, 8) }
                return []
            }
            s.peers.removeValue(forKey: id)
            close(peer.eventfd)
            s.ids.give(back: id)
            s.users = s.users.filter { $0.value != id }
            return s.peers.values.compactMap(\.conn)
        }
        for c in announce where !Self.send(c, id, -1) { c.shutdown() }
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
    public func signal(_ index: Int) -> UInt64 {
        let count = table.increment(index)
        let waiters = table.waiters(index)
        var one: UInt64 = 1
        // Written under the lock: a departing peer's descriptor is closed under it too, and could be reused.
        state.withLock { s in
            for w in waiters {
                if let peer = s.peers[Int64(w)] { _ = write(peer.eventfd, &one, 8) }
            }
        }
        return count
    }

    /// Waits until the event's counter passes `seen` (or the deadline); returns the counter.
    /// hvd is a waiter of the event only while someone waits through it: a
    /// guest's signal rings only those who wait (a host session on the
    /// doorbells would otherwise be rung after hvd, for nothing).
    public func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64? {
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

    /// One protocol message, within the connection's send deadline (SO_SNDTIMEO).
    private static func send(_ conn: UnixSocket, _ value: Int64, _ fd: Int32) -> Bool {
        hv_send_fd(conn.fd, value, fd) >= 0
    }

    /// Guests and host programs connected now.
    public var peerCount: Int { state.withLock { $0.peers.values.filter { $0.conn != nil }.count } }
}
