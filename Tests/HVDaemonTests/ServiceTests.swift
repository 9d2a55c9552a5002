import Foundation
import HVCore
import Testing

@testable import HVDaemon

#if canImport(Glibc)
import Glibc
#endif

/// The service plumbing: sd_notify datagrams, the lifecycle log's bound and long poll.
@Suite struct ServiceTests {
    @Test func notifySendsOneDatagramToThePathSystemdNames() throws {
        let path = "/tmp/hv-notify-\(UUID().uuidString.prefix(6)).sock"
        defer { unlink(path) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        #expect(SystemdNotify.send("READY=1\nSTATUS=serving"))
        var buf = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
        #expect(n > 0 && String(decoding: buf[0..<max(n, 0)], as: UTF8.self) == "READY=1\nSTATUS=serving")
        // Anything but a path or an abstract name is ignored, not sent somewhere.
        setenv("NOTIFY_SOCKET", "vsock:2:1234", 1)
        #expect(!SystemdNotify.send("READY=1"))
    }

    @Test func theLogKeepsTheLastEventsAndALongPollWakesOnANewOne() {
        let events = LifecycleLog(log: Logger())
        for i in 0..<(LifecycleLog.kept + 10) { events.post(.started, guest: "g", "start \(i)") }
        let all = events.after(0, wait: 0).events
        #expect(all.count == LifecycleLog.kept && all.first?.seq == 11 && all.last?.seq == LifecycleLog.kept + 10)
        let last = all.last?.seq ?? 0
        #expect(events.after(last, wait: 0).events.isEmpty)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { events.post(.crashed, guest: "g", "killed") }
        let t0 = Date()
        let woke = events.after(last, wait: 10).events
        #expect(woke.map(\.kind) == [.crashed] && -t0.timeIntervalSinceNow < 5)
    }
}
