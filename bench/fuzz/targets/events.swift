// libFuzzer target: lines of an event session (hvd's, and hv's on the doorbells).
import Foundation

final class FuzzEvents: EventServing, @unchecked Sendable {
    let eventNames = ["ping", "pong", "a b"]
    var counts: [UInt64] = [0, UInt64.max - 1, 7]
    func signal(_ index: Int) -> UInt64 {
        counts[index] &+= 1
        return counts[index]
    }
    func counter(_ index: Int) -> UInt64 { counts[index] }
    func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64? {
        precondition(timeout.isFinite && timeout >= 0 && timeout <= 3600, "a timeout the parser should have refused")
        return counts[index] > seen ? counts[index] : nil
    }
}

let fuzzEventServer = FuzzEvents()

@Sendable func fuzzEvents(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // As the session's reader cuts them: lines at \n, each at most EventLines.maxLine bytes.
    let bytes = UnsafeBufferPointer(start: data, count: size)
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) where line.count <= EventLines.maxLine {
        let reply = EventLines.answer(String(decoding: line, as: UTF8.self), server: fuzzEventServer)
        // One line back, printable, bounded: what a program reading the session relies on.
        precondition(!reply.isEmpty && reply.utf8.count < 1024, "reply size")
        precondition(!reply.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "a control character in the reply")
    }
    return 0
}
