import Foundation
import HVSystem
import Testing

/// A listener that never accepts (a QEMU still starting, or stuck) with its
/// backlog full: a connect gives up at its deadline instead of blocking for
/// good, as a blocking connect would (hvd's start hung so once, in QMP).
@Suite struct UnixConnectTests {
    @Test func aConnectToAListenerThatNeverAcceptsEndsAtItsDeadline() throws {
        let path = "/tmp/hv-backlog-\(UUID().uuidString.prefix(6)).sock"
        defer { unlink(path) }
        let listener = try UnixSocket.listen(at: path, backlog: 0)
        defer { listener.close() }
        // The backlog takes one that is never accepted; the next finds it full.
        let first = try UnixSocket.connect(to: path, timeout: 2)
        defer { first.close() }
        let t0 = Date()
        #expect(throws: HVError.self) { _ = try UnixSocket.connect(to: path, timeout: 0.5) }
        #expect(-t0.timeIntervalSinceNow < 3, "it gave up at its deadline")
    }
}
