import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// The events table in shared memory (a file under /dev/shm/hv/…): hvd
/// creates it at load; a host program's doorbell peer (`DoorbellPeer`) maps
/// the descriptor the ivshmem server hands it.
///
/// Every guest with events maps the same memory and may write anything into
/// it, so nothing here trusts what it reads: the names come from the VMF's
/// configuration (never from the table), a counter is only compared, and a
/// waiter entry is only a key looked up among the peers the server announced.
public final class EventMemory: @unchecked Sendable {
    // @unchecked: `base` is a fixed mapping, every access to it an atomic of its own.
    public let fd: Int32
    private let base: UnsafeMutableRawPointer
    public let names: [String]

    /// hvd's table: a fresh one each load (counters from 0, no waiters, the names in slot order).
    public convenience init(path: String, names: [String]) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HVError.posix("open \(path)", errno: errno) }
        guard ftruncate(fd, off_t(EventTable.regionSize)) == 0 else {
            let e = errno
            close(fd)
            throw HVError.posix("size \(path)", errno: e)
        }
        try self.init(mapping: fd, names: names, what: path)
        memset(base, 0, EventTable.regionSize)
        base.storeBytes(of: EventTable.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        base.storeBytes(of: UInt32(names.count).littleEndian, toByteOffset: 4, as: UInt32.self)
        for (i, name) in names.enumerated() {
            let slot = base + EventTable.slot(i)
            for (j, b) in name.utf8.prefix(EventTable.nameLength - 1).enumerated() { slot.storeBytes(of: b, toByteOffset: j, as: UInt8.self) }
        }
    }

    /// Maps a table someone else made (the descriptor is owned from now on).
    /// Refused when it is smaller than a table: a short mapping would fault.
    public init(mapping fd: Int32, names: [String], what: String = "the events table") throws {
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) >= EventTable.regionSize else {
            close(fd)
            throw HVError(.io, "\(what) is not an events table (\(EventTable.regionSize) bytes)")
        }
        guard names.count <= EventTable.capacity,
            let p = mmap(nil, EventTable.regionSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED
        else {
            let e = errno
            close(fd)
            throw HVError.posix("map \(what)", errno: e)
        }
        self.fd = fd
        base = p
        self.names = names
    }

    deinit {
        munmap(base, EventTable.regionSize)
        close(fd)
    }

    public func index(of name: String) -> Int? { names.firstIndex(of: name) }
    public func setHostPeer(_ id: UInt32) { base.storeBytes(of: id.littleEndian, toByteOffset: EventTable.hostPeerOffset, as: UInt32.self) }

    private func atomic64(_ index: Int, _ offset: Int) -> UnsafeMutablePointer<UInt64> {
        precondition(names.indices.contains(index), "event index out of range")
        return (base + EventTable.slot(index) + offset).assumingMemoryBound(to: UInt64.self)
    }

    public func counter(_ index: Int) -> UInt64 { hv_atomic_load64(atomic64(index, EventTable.counterOffset)) }
    public func increment(_ index: Int) -> UInt64 { hv_atomic_add64(atomic64(index, EventTable.counterOffset), 1) &+ 1 }
    private func entry(_ index: Int, _ n: Int) -> UnsafeMutablePointer<UInt16> {
        precondition(names.indices.contains(index), "event index out of range")
        return (base + EventTable.slot(index) + EventTable.waitersOffset + 2 * n).assumingMemoryBound(to: UInt16.self)
    }

    /// The peer ids registered as waiting on the event.
    public func waiters(_ index: Int) -> [Int] {
        (0..<EventTable.waiterEntries).map { Int(hv_atomic_load16(entry(index, $0))) }.filter { $0 != 0 }.map { $0 - 1 }
    }

    /// Registers a waiter once; false when all entries are taken.
    @discardableResult
    public func addWaiter(_ index: Int, peer: UInt32) -> Bool {
        let value = UInt16(truncatingIfNeeded: peer + 1)
        let all = (0..<EventTable.waiterEntries).map { entry(index, $0) }
        guard !all.contains(where: { hv_atomic_load16($0) == value }) else { return true }
        return all.contains { hv_atomic_cas16($0, 0, value) != 0 }
    }

    public func removeWaiter(_ index: Int, peer: UInt32) {
        let value = UInt16(truncatingIfNeeded: peer + 1)
        for n in 0..<EventTable.waiterEntries { _ = hv_atomic_cas16(entry(index, n), value, 0) }
    }

    public func forget(peer: UInt32) {
        let value = UInt16(truncatingIfNeeded: peer + 1)
        for i in names.indices {
            for n in 0..<EventTable.waiterEntries { _ = hv_atomic_cas16(entry(i, n), value, 0) }
        }
    }

    /// The table's header and slot names are exactly these (a check, not a
    /// parse: a guest that scribbled on them only makes the join fail).
    public func carries(_ expected: [String]) -> Bool {
        let raw = UnsafeRawBufferPointer(start: base, count: EventTable.regionSize)
        guard expected.count <= EventTable.capacity,
            raw.load(fromByteOffset: 0, as: UInt32.self) == EventTable.magic.littleEndian,
            raw.load(fromByteOffset: 4, as: UInt32.self) == UInt32(expected.count).littleEndian
        else { return false }
        return expected.enumerated().allSatisfy { i, name in
            var want = Array(name.utf8.prefix(EventTable.nameLength - 1))
            want += [UInt8](repeating: 0, count: EventTable.nameLength - want.count)
            return Array(raw[EventTable.slot(i)..<EventTable.slot(i) + EventTable.nameLength]) == want
        }
    }
}
