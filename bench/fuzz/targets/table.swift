// libFuzzer target: an events table whose bytes a guest wrote (every guest
// with events maps it and may write anything): the host's readers of it
// (EventMemory: the name check, counters, waiter entries, registering and
// forgetting waiters) must stay in bounds and keep their promises.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

@Sendable func fuzzTable(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = "/dev/shm/hv-fuzz-table-\(getpid())"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
    unlink(path)
    guard fd >= 0, ftruncate(fd, off_t(EventTable.regionSize)) == 0 else { fatalError("the table's file") }
    // The input, repeated over the whole table: what a guest left there.
    var page = [UInt8](repeating: 0, count: EventTable.regionSize)
    if size > 0 { for i in page.indices { page[i] = data[i % size] } }
    guard pwrite(fd, page, page.count, 0) == page.count else { fatalError("pwrite") }
    let names = ["estop", "go", "a b"]
    guard let table = try? EventMemory(mapping: fd, names: names) else { fatalError("map") }
    _ = table.carries(names)
    for i in names.indices {
        _ = table.counter(i)
        let waiters = table.waiters(i)
        // Waiter entries hold peer id + 1 in 16 bits: an id is never negative or past 65534.
        precondition(waiters.count <= EventTable.waiterEntries && waiters.allSatisfy { (0..<65535).contains($0) }, "waiters out of range")
        _ = table.addWaiter(i, peer: 7)
        precondition(table.waiters(i).contains(7) || table.waiters(i).count == EventTable.waiterEntries, "a free entry was not taken")
        table.removeWaiter(i, peer: 7)
        precondition(!table.waiters(i).contains(7), "a waiter stayed after its removal")
        _ = table.increment(i)
    }
    table.forget(peer: 3)
    for i in names.indices { precondition(!table.waiters(i).contains(3), "a forgotten peer still waits") }
    return 0
}
