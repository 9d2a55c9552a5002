// libFuzzer target: NTP datagrams from a guest, as hvd's clock server and its probe read them.
import Foundation

@Sendable func fuzzNTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let answer = NTPPacket.answer(bytes, received: 1_800_000_000.25, now: 1_800_000_000.5) {
        // An answer is one fixed header, a server's, to exactly what was asked.
        precondition(answer.bytes.count == NTPPacket.size && answer.mode == 4, "answer shape")
        precondition(answer.origin == NTPPacket(bytes)?.transmit, "origin is the request's transmit time")
    }
    if let m = NTPPacket.offset(answer: bytes, sentStamp: NTPPacket(bytes)?.origin ?? 0, sent: 1_800_000_000, received: 1_800_000_000.002) {
        precondition(m.offset.isFinite && m.delay.isFinite && m.delay >= 0, "a measurement is a finite number")
    }
    return 0
}
