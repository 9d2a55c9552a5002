import Foundation
import Testing

@testable import HVCore

/// hvd's clock server and probe: a guest's request answered as chrony expects,
/// a guest's answer turned into its offset, and bytes that are neither refused.
@Suite struct NTPPacketTests {
    @Test func timestampsRoundTrip() {
        for t in [0.0, 1_800_000_000.0, 1_800_000_000.123456, 2_000_000_000.999999] {
            #expect(abs(NTPPacket.seconds(NTPPacket.timestamp(t)) - t) < 1e-6, "\(t)")
        }
        // Nothing from outside reaches these, but a bad value must not trap either.
        #expect(NTPPacket.timestamp(.nan) == 0 && NTPPacket.timestamp(-1) == 0 && NTPPacket.timestamp(.infinity) == 0)
    }

    @Test func aClientRequestGetsAServersAnswerToIt() throws {
        var q = NTPPacket(mode: 3)
        q.version = 4
        q.poll = 6
        q.transmit = NTPPacket.timestamp(1_800_000_000.5)
        let a = try #require(NTPPacket.answer(q.bytes, received: 1_800_000_000.25, now: 1_800_000_000.26))
        #expect(a.mode == 4 && a.version == 4 && a.stratum == 1 && a.leap == 0 && a.poll == 6)
        #expect(a.origin == q.transmit, "the client matches its request by this")
        #expect(NTPPacket.seconds(a.receive) < NTPPacket.seconds(a.transmit))
        let back = try #require(NTPPacket(a.bytes))
        #expect(back == a)
    }

    @Test func whatIsNoClientRequestGetsNoAnswer() {
        var server = NTPPacket(mode: 4)
        server.transmit = 1
        #expect(NTPPacket.answer(server.bytes, received: 1, now: 1) == nil, "answering answers would loop between two servers")
        #expect(NTPPacket.answer(Array(NTPPacket(mode: 3).bytes.prefix(47)), received: 1, now: 1) == nil, "short")
        var v7 = NTPPacket(mode: 3)
        v7.version = 7
        #expect(NTPPacket.answer(v7.bytes, received: 1, now: 1) == nil)
        #expect(NTPPacket.answer([], received: 1, now: 1) == nil)
        // Extension fields after the header are ignored, not an error.
        #expect(NTPPacket.answer(NTPPacket(mode: 3).bytes + [UInt8](repeating: 0xff, count: 64), received: 1, now: 1) != nil)
    }

    @Test func theOffsetComesFromTheFourTimes() throws {
        // The guest's clock runs 2 ms ahead; each way takes 1 ms; the guest holds the request 0.5 ms.
        let sent = 1_800_000_000.0, stamp = NTPPacket.timestamp(sent)
        var a = NTPPacket(mode: 4)
        a.origin = stamp
        a.receive = NTPPacket.timestamp(sent + 0.001 + 0.002)
        a.transmit = NTPPacket.timestamp(sent + 0.0015 + 0.002)
        let m = try #require(NTPPacket.offset(answer: a.bytes, sentStamp: stamp, sent: sent, received: sent + 0.0025))
        #expect(abs(m.offset - 0.002) < 1e-6 && abs(m.delay - 0.002) < 1e-6, "\(m)")
        // An answer to another request (or a forged one) is not taken.
        #expect(NTPPacket.offset(answer: a.bytes, sentStamp: stamp &+ 1, sent: sent, received: sent + 0.0025) == nil)
        var request = a
        request.mode = 3
        #expect(NTPPacket.offset(answer: request.bytes, sentStamp: stamp, sent: sent, received: sent + 0.0025) == nil)
        // A guest claiming it answered before it was asked, by more than the round trip, is refused.
        var early = a
        early.transmit = NTPPacket.timestamp(sent - 10)
        #expect(NTPPacket.offset(answer: early.bytes, sentStamp: stamp, sent: sent, received: sent + 0.0025) == nil)
    }
}
