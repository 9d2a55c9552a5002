import Foundation
import HVAPI
import HVCore
import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// The guests' clock, on the host's seat of the VMF network (hv's own
/// network namespace): an NTP server that RT-Linux's chrony follows, and a
/// probe that asks each member's clock for the time every few seconds, so
/// the offset `hv guest status` shows is measured by the host, not told by
/// the guest. Started with the host's seat, stopped with it.
final class ClockService: Sendable {
    /// Replies the server sends in a second at most: a guest flooding it
    /// costs hvd that much and no more.
    static let repliesPerSecond = 200
    static let probeInterval: Double = 5

    private struct State {
        var server: Int32 = -1
        var probe: Int32 = -1
        var running = false
        var readings: [String: ClockReading] = [:]
        var threads = 0
    }
    private let state = Monitor(State())
    let members: [(folder: String, address: String)]
    private let done = DispatchSemaphore(value: 0)

    init(members: [CommunicationConfig.Member]) {
        self.members = members.map { ($0.folder, $0.address.description) }
    }

    /// Opens both sockets inside hv's namespace and starts serving.
    func start(layout: HostLayout, hostAddress: String) throws {
        let fds = (
            HostNetwork.socketInNamespace(layout, address: hostAddress, port: 123, stream: false),
            HostNetwork.socketInNamespace(layout, address: hostAddress, port: 0, stream: false)
        )
        guard fds.0 >= 0, fds.1 >= 0 else {
            for fd in [fds.0, fds.1] where fd >= 0 { close(fd) }
            let e = fds.0 < 0 ? fds.0 : fds.1
            throw HVError(
                .io, "the guests' clock server on \(hostAddress):123 could not start: \(String(cString: strerror(-e)))",
                hint: "another NTP server in hv's namespace? hv net detach, then hv net attach")
        }
        state.withLock {
            $0.server = fds.0
            $0.probe = fds.1
            $0.running = true
            $0.threads = 2
        }
        Thread.detachNewThread { [self] in
            serve(fds.0)
            done.signal()
        }
        Thread.detachNewThread { [self] in
            probeLoop(fds.1)
            done.signal()
        }
    }

    func stop() {
        let (fds, threads) = state.withLock { s -> ([Int32], Int) in
            let was = s.running ? s.threads : 0
            s.running = false
            return ([s.server, s.probe], was)
        }
        // The loops wake at least twice a second and see `running` gone.
        for _ in 0..<threads { _ = done.wait(timeout: .now() + 3) }
        for fd in fds where fd >= 0 { close(fd) }
        state.withLock {
            $0.server = -1
            $0.probe = -1
            $0.readings = [:]
        }
    }

    func reading(_ folder: String) -> ClockReading? { state.withLock { $0.readings[folder] } }

    private var running: Bool { state.withLock { $0.running } }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Waits up to `seconds` for a datagram; returns its bytes, sender and arrival time.
    static func receive(_ fd: Int32, within seconds: Double) -> ([UInt8], sockaddr_in, Double)? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(seconds * 1000)) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 512)
        var from = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &from) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buf, buf.count, Int32(MSG_DONTWAIT), $0, &len) }
        }
        let at = now()
        guard n > 0 else { return ([], from, at) }
        return (Array(buf.prefix(n)), from, at)
    }

    static func send(_ fd: Int32, _ bytes: [UInt8], to address: sockaddr_in) {
        var to = address
        _ = withUnsafePointer(to: &to) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    private func serve(_ fd: Int32) {
        var second = 0.0, sent = 0
        while running {
            guard let (bytes, from, received) = Self.receive(fd, within: 0.5), !bytes.isEmpty else { continue }
            if received - second >= 1 {
                second = received
                sent = 0
            }
            guard sent < Self.repliesPerSecond,
                let answer = NTPPacket.answer(bytes, received: received, now: Self.now())
            else { continue }
            sent += 1
            Self.send(fd, answer.bytes, to: from)
        }
    }

    /// Every few seconds a request to each member; the answers of the next second are matched
    /// by sender and origin timestamp.
    private func probeLoop(_ fd: Int32) {
        while running {
            var pending: [UInt32: (folder: String, stamp: UInt64, sent: Double)] = [:]
            for m in members {
                var to = sockaddr_in()
                to.sin_family = sa_family_t(AF_INET)
                to.sin_port = in_port_t(123).bigEndian
                guard inet_pton(AF_INET, m.address, &to.sin_addr) == 1 else { continue }
                let sent = Self.now()
                var q = NTPPacket(mode: NTPPacket.Mode.client.rawValue)
                q.transmit = NTPPacket.timestamp(sent)
                pending[to.sin_addr.s_addr] = (m.folder, q.transmit, sent)
                Self.send(fd, q.bytes, to: to)
            }
            let until = Self.now() + 1
            while running, !pending.isEmpty, Self.now() < until {
                guard let (bytes, from, received) = Self.receive(fd, within: max(0.01, until - Self.now())),
                    let p = pending[from.sin_addr.s_addr],
                    let m = NTPPacket.offset(answer: bytes, sentStamp: p.stamp, sent: p.sent, received: received)
                else { continue }
                pending[from.sin_addr.s_addr] = nil
                let reading = ClockReading(offsetSeconds: m.offset, delaySeconds: m.delay, measuredAt: Timestamp.iso8601())
                state.withLock { $0.readings[p.folder] = reading }
            }
            // A member that did not answer (stopped, no chrony) shows no reading rather than an old one.
            let silent = pending.values.map(\.folder)
            state.withLock { s in for f in silent { s.readings[f] = nil } }
            var slept = 0.0
            while running, slept < Self.probeInterval {
                usleep(250_000)
                slept += 0.25
            }
        }
    }
}
