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
final class IvshmemServer: @unchecked Sendable {
    let socketPath: String
    let table: EventMemory
    private let lock = NSCondition()
    private var listener: UnixSocket?
    /// Peer id → its eventfd (vector 0) and, for guests, its connection.
    private var peers: [Int64: (eventfd: Int32, conn: UnixSocket?)] = [:]
    let hostID: Int64 = 0
    private let hostEventFD: Int32
    private var running = true
    private var nextID: Int64 = 1

    init(socketPath: String, table: EventMemory) throws {
        self.socketPath = socketPath
        self.table = table
        hostEventFD = hv_eventfd()
        guard hostEventFD >= 0 else { throw HVError.posix("eventfd", errno: errno) }
        peers[hostID] = (hostEventFD, nil)
        table.setHostPeer(UInt32(hostID))
    }

    func start() throws {
        let l = try UnixSocket.listen(at: socketPath)
        HostPermissions.shareSocket(URL(fileURLWithPath: socketPath))
        listener = l
        Thread.detachNewThread { [self] in acceptLoop(l) }
        Thread.detachNewThread { [self] in hostLoop() }
    }

    func stop() {
        lock.lock(); running = false; lock.broadcast(); lock.unlock()
        listener?.shutdown()
        listener?.close()
        unlink(socketPath)
    }

    /// More doorbell connections than guests could ever need are refused:
    /// each costs hvd an eventfd and a thread.
    static let maxPeers = 64

    private func acceptLoop(_ l: UnixSocket) {
        while let conn = try? l.accept() {
            lock.lock()
            guard peers.count <= Self.maxPeers else {
                lock.unlock()
                conn.close()
                continue
            }
            // Ids only grow: QEMU frees a departed peer's state and cannot take its id again.
            let id = nextID
            nextID += 1
            let fd = hv_eventfd()
            let others = peers
            peers[id] = (fd, conn)
            lock.unlock()
            // 1–3: version, id, the shared memory; 4: the others' doorbells; 5: our own.
            _ = hv_send_fd(conn.fd, 0, -1)
            _ = hv_send_fd(conn.fd, id, -1)
            _ = hv_send_fd(conn.fd, -1, table.fd)
            for (peer, p) in others.sorted(by: { $0.key < $1.key }) {
                _ = hv_send_fd(conn.fd, peer, p.eventfd)
                if let c = p.conn { _ = hv_send_fd(c.fd, id, fd) }
            }
            _ = hv_send_fd(conn.fd, id, fd)
            Thread.detachNewThread { [self] in watch(conn, id: id) }
        }
    }

    /// A client never writes; its socket closing means the guest is gone.
    private func watch(_ conn: UnixSocket, id: Int64) {
        while let d = try? conn.read(), !d.isEmpty {}
        lock.lock()
        let gone = peers.removeValue(forKey: id)
        let others = peers
        lock.unlock()
        if let gone { close(gone.eventfd) }
        table.forget(peer: UInt32(id))
        for (_, p) in others { if let c = p.conn { _ = hv_send_fd(c.fd, id, -1) } }
        conn.close()
    }

    /// The host's doorbell: wakes whoever waits in `wait`. QEMU makes the
    /// eventfd non-blocking (the descriptor is shared), so poll before reading.
    private func hostLoop() {
        var value: UInt64 = 0
        while true {
            var p = pollfd(fd: hostEventFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 500)
            if ready > 0 {
                _ = read(hostEventFD, &value, 8)
                // A guest ringing without pause gets at most ~10,000 wake-ups a second of hvd.
                usleep(100)
            }
            lock.lock()
            let alive = running
            if ready > 0 { lock.broadcast() }
            lock.unlock()
            if !alive { break }
        }
    }

    /// Increments the event and rings every peer waiting on it; returns the new count.
    func signal(_ index: Int) -> UInt64 {
        let count = table.increment(index)
        let waiters = table.waiters(index)
        lock.lock()
        let targets = waiters.compactMap { peers[Int64($0)]?.eventfd }
        lock.unlock()
        var one: UInt64 = 1
        for fd in targets { _ = write(fd, &one, 8) }
        return count
    }

    /// Waits until the event's counter passes `seen` (or the deadline); returns the counter.
    func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64? {
        table.addWaiter(index, peer: UInt32(hostID))
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock(); defer { lock.unlock() }
        while table.counter(index) <= seen {
            guard running, lock.wait(until: deadline) else { return table.counter(index) > seen ? table.counter(index) : nil }
        }
        return table.counter(index)
    }

    var peerCount: Int { lock.lock(); defer { lock.unlock() }; return peers.count - 1 }
}

/// The events table in shared memory (a file under /dev/shm/hv/…), mapped by hvd.
final class EventMemory: @unchecked Sendable {
    let fd: Int32
    private let base: UnsafeMutableRawPointer
    let names: [String]

    init(path: String, names: [String]) throws {
        let size = EventTable.regionSize
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HVError.posix("open \(path)", errno: errno) }
        guard ftruncate(fd, off_t(size)) == 0,
              let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let e = errno
            close(fd)
            throw HVError.posix("map \(path)", errno: e)
        }
        base = p
        self.names = names
        // A fresh table each load: counters from 0, no waiters, the names in slot order.
        memset(base, 0, size)
        base.storeBytes(of: EventTable.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        base.storeBytes(of: UInt32(names.count).littleEndian, toByteOffset: 4, as: UInt32.self)
        for (i, name) in names.enumerated() {
            let slot = base + EventTable.slot(i)
            for (j, b) in name.utf8.prefix(EventTable.nameLength - 1).enumerated() { slot.storeBytes(of: b, toByteOffset: j, as: UInt8.self) }
        }
    }

    deinit {
        munmap(base, EventTable.regionSize)
        close(fd)
    }

    func index(of name: String) -> Int? { names.firstIndex(of: name) }
    func setHostPeer(_ id: UInt32) { base.storeBytes(of: id.littleEndian, toByteOffset: EventTable.hostPeerOffset, as: UInt32.self) }

    private func atomic64(_ index: Int, _ offset: Int) -> UnsafeMutablePointer<UInt64> {
        (base + EventTable.slot(index) + offset).assumingMemoryBound(to: UInt64.self)
    }

    func counter(_ index: Int) -> UInt64 { hv_atomic_load64(atomic64(index, EventTable.counterOffset)) }
    func increment(_ index: Int) -> UInt64 { hv_atomic_add64(atomic64(index, EventTable.counterOffset), 1) + 1 }
    private func entry(_ index: Int, _ n: Int) -> UnsafeMutablePointer<UInt16> {
        (base + EventTable.slot(index) + EventTable.waitersOffset + 2 * n).assumingMemoryBound(to: UInt16.self)
    }

    func waiters(_ index: Int) -> [Int] {
        (0..<EventTable.waiterEntries).map { Int(hv_atomic_load16(entry(index, $0))) }.filter { $0 != 0 }.map { $0 - 1 }
    }

    func addWaiter(_ index: Int, peer: UInt32) {
        let value = UInt16(truncatingIfNeeded: peer + 1)
        let all = (0..<EventTable.waiterEntries).map { entry(index, $0) }
        guard !all.contains(where: { hv_atomic_load16($0) == value }) else { return }
        _ = all.first { hv_atomic_cas16($0, 0, value) != 0 }
    }

    func forget(peer: UInt32) {
        let value = UInt16(truncatingIfNeeded: peer + 1)
        for i in names.indices {
            for n in 0..<EventTable.waiterEntries { _ = hv_atomic_cas16(entry(i, n), value, 0) }
        }
    }
}
