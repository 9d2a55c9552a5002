import CHVSys
import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

@testable import HVEvents

#if canImport(Glibc)
import Glibc
#endif

/// A host program's own doorbell (`hv event session` run by root) against
/// hvd's real ivshmem server, with a raw socket standing in for a guest's QEMU.
@Suite final class DoorbellPeerTests: Sendable {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hv-bell-\(UUID().uuidString.prefix(8))")
    /// The guests' socket (the stand-in QEMU) and the host programs' (DoorbellPeer, the C header).
    var socketPath: String { dir.appendingPathComponent("ivshmem.sock").path }
    var hostSocket: String { dir.appendingPathComponent("events-host.sock").path }

    init() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    /// Each test's scratch folder goes with it (a class suite: one instance a test, its deinit the teardown).
    deinit { try? FileManager.default.removeItem(at: dir) }

    func server(_ names: [String]) throws -> (IvshmemServer, EventMemory) {
        let table = try EventMemory(path: dir.appendingPathComponent("events").path, names: names)
        let server = try IvshmemServer(socketPath: socketPath, hostSocketPath: hostSocket, table: table)
        try server.start()
        return (server, table)
    }

    /// A guest's QEMU: joins, and keeps every (peer, fd) message it was sent.
    final class FakeQEMU: @unchecked Sendable {
        let sock: UnixSocket
        private(set) var id: Int64 = -1
        private(set) var own: Int32 = -1
        /// How long to wait for each message, in ms.
        let patience: Int32
        init(_ path: String, patience: Int32 = 3000) throws {
            self.patience = patience
            sock = try UnixSocket.connect(to: path)
            let hello = next(3)  // version, id, the table; then the others' doorbells and our own last
            id = hello[1].0
            while own < 0, let (peer, fd) = next(1).first, peer != -99 { if peer == id { own = fd } }
        }
        /// The other peers' doorbells as announced so far.
        private(set) var fds: [Int64: Int32] = [:]
        func next(_ count: Int) -> [(Int64, Int32)] {
            (0..<count).map { _ in
                var value: Int64 = 0, fd: Int32 = -1
                var p = pollfd(fd: sock.fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, patience) == 1 else { return (-99, -1) }
                _ = hv_recv_fd(sock.fd, &value, &fd)
                if fd >= 0 { fds[value] = fd } else { fds.removeValue(forKey: value) }
                return (value, fd)
            }
        }
        /// Its doorbell rang within the time.
        func rang(within ms: Int32 = 3000) -> Bool {
            var p = pollfd(fd: own, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, ms) == 1 else { return false }
            var v: UInt64 = 0
            _ = read(own, &v, 8)
            return true
        }
    }

    @Test func aHostPeerSignalsAndWaitsWithoutHvdInThePath() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (server, table) = try server(["ping", "pong"])
        defer { server.stop() }
        let guest = try FakeQEMU(socketPath)

        let peer = try DoorbellPeer.join(socketPath: hostSocket, names: ["ping", "pong"])
        defer { peer.leave() }
        #expect(peer.id == 1 && peer.eventNames == ["ping", "pong"], "the first host seat")
        let seatBell = try #require(guest.fds[1], "the guest was handed the seat's doorbell at its own join")
        #expect(server.peerCount == 2)

        // Host peer → guest: the guest waits on "ping"; our signal rings its own eventfd.
        table.addWaiter(0, peer: UInt32(guest.id))
        #expect(peer.signal(0) == 1 && table.counter(0) == 1)
        #expect(guest.rang(), "the guest's doorbell rang")

        // Guest → host peer: we wait on "pong"; the guest increments and rings our eventfd (as hv-comm does).
        let waiting = Thread.detachNewThreadResult { peer.wait(1, after: 0, timeout: 10) }
        #expect(wait(until: { table.waiters(1).contains(Int(peer.id)) }), "registered as a waiter")
        _ = table.increment(1)
        var one: UInt64 = 1
        _ = write(seatBell, &one, 8)
        #expect(waiting.value(timeout: 5) == .some(.some(1)))

        // hvd waits on an event the host peer signals: hvd's own doorbell (peer 0) rings.
        let hvdWaits = Thread.detachNewThreadResult { server.wait(0, after: 1, timeout: 10) }
        #expect(wait(until: { table.waiters(0).contains(0) }))
        #expect(peer.signal(0) == 2)
        #expect(hvdWaits.value(timeout: 5) == .some(.some(2)))
        #expect(!table.waiters(0).contains(0), "hvd is a waiter only while someone waits through it")

        // A timeout is a timeout, and the line protocol answers the same as hvd's.
        #expect(peer.wait(1, after: 5, timeout: 0.2) == nil)
        #expect(EventLines.answer("count pong", server: peer) == "pong 1")
        #expect(EventLines.answer("wait pong 1 0.1", server: peer) == "timeout pong 1")
        #expect(EventLines.answer("signal nosuch", server: peer).hasPrefix("error no event \"nosuch\""))

        // Leaving: hvd forgets its waits; the guest hears nothing (the seat stays, for the next program).
        peer.leave()
        #expect(wait(until: { !table.waiters(1).contains(Int(peer.id)) && server.peerCount == 1 }))
        #expect(wait(until: { peer.isClosed }))
    }

    @Test func peersThatComeAndGoAreRungOnlyWhileThere() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (server, table) = try server(["ev"])
        defer { server.stop() }
        let peer = try DoorbellPeer.join(socketPath: hostSocket, names: ["ev"])
        defer { peer.leave() }
        // A guest that joins after us is learned from the server's announcement.
        let late = try FakeQEMU(socketPath)
        table.addWaiter(0, peer: UInt32(late.id))
        #expect(wait(until: { peer.signal(0) > 0 && late.rang(within: 100) }), "the late guest is rung")
        // Once it is gone its (stale) waiter entry rings nobody and nothing breaks.
        late.sock.close()
        #expect(wait(until: { server.peerCount == 1 }))
        table.addWaiter(0, peer: UInt32(late.id))
        let before = table.counter(0)
        #expect(peer.signal(0) == before + 1)
    }

    @Test func aTableThatIsNotTheNamedOneIsRefused() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (server, _) = try server(["ping", "pong"])
        defer { server.stop() }
        #expect(throws: HVError.self) { try DoorbellPeer.join(socketPath: hostSocket, names: ["pong", "ping"]) }
        #expect(throws: HVError.self) { try DoorbellPeer.join(socketPath: hostSocket, names: ["ping"]) }
        #expect(wait(until: { server.peerCount == 0 }), "a refused join leaves no peer behind")
    }

    @Test func aWaitEndsWhenTheServerGoes() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (server, _) = try server(["ev"])
        let peer = try DoorbellPeer.join(socketPath: hostSocket, names: ["ev"])
        defer { peer.leave() }
        let waiting = Thread.detachNewThreadResult { peer.wait(0, after: 0, timeout: 30) }
        usleep(200_000)
        server.stop()
        #expect(waiting.value(timeout: 5) == .some(nil), "woken, not left for 30 s")
        #expect(peer.isClosed)
    }

    /// include/hv/hv_events.h, compiled into a host program of its own, on
    /// the same server: woken by a guest, waking one, refused a wrong table.
    @Test func aHostProgramWithTheCHeaderSignalsAndWaits() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL
        let program = dir.appendingPathComponent("host_events").path
        let cc = Self.run(
            "/usr/bin/gcc",
            [
                "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", repo.appendingPathComponent("include").path,
                "-o", program, repo.appendingPathComponent("Tests/Fixtures/host-events/host_events.c").path,
            ])
        try #require(cc.status == 0, "the header compiles cleanly: \(cc.output)")
        let (server, table) = try server(["ping", "pong"])
        defer { server.stop() }
        let guest = try FakeQEMU(socketPath)

        // The guest waits on "ping": the program's signal rings it.
        table.addWaiter(0, peer: UInt32(guest.id))
        let signal = Self.run(program, [hostSocket, "ping,pong", "signal", "ping"])
        #expect(signal.status == 0 && signal.output == "ping 1\n", "\(signal.output)")
        #expect(guest.rang(), "the guest's doorbell rang")
        #expect(wait(until: { server.peerCount == 1 }), "the program left the server when it ended")

        // The program waits on "pong"; the guest increments and rings everyone waiting.
        let socket = hostSocket
        let waiting = Thread.detachNewThreadResult { Self.run(program, [socket, "ping,pong", "wait", "pong", "0", "20"]) }
        // It sits on seat 1 (the first program left it free), whose doorbell the guest holds since its join.
        #expect(wait(until: { table.waiters(1).contains(1) }), "the program registered as a waiter")
        _ = table.increment(1)
        var one: UInt64 = 1
        if let bell = guest.fds[1] { _ = write(bell, &one, 8) }
        let woke = waiting.value(timeout: 10)
        #expect(woke?.status == 0 && woke?.output == "pong 1\n", "\(String(describing: woke))")

        // A timeout, and a table that does not hold the names given.
        let timeout = Self.run(program, [hostSocket, "ping,pong", "wait", "pong", "5", "1"])
        #expect(timeout.status == 1 && timeout.output == "timeout pong\n")
        let wrong = Self.run(program, [hostSocket, "pong,ping", "signal", "ping"])
        #expect(wrong.status == 3 && wrong.output.contains("Protocol error"), "\(wrong.output)")
        #expect(table.counter(0) == 1, "nothing signalled by a refused join")
    }

    static func run(_ path: String, _ args: [String]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Ids grow; at the end a departed id comes back only once no connected
    /// peer can have heard of it (QEMU crashes on an id it saw leave).
    @Test func peerIDsAreTakenAgainOnlyWhenNoRunningPeerKnewThem() {
        var ids = PeerIDs(maxID: 3)
        #expect(ids.take() == 1 && ids.take() == 2 && ids.take() == 3)
        #expect(ids.take() == nil, "all in use")
        ids.give(back: 3)
        #expect(ids.take() == nil, "1 and 2 saw 3 leave")
        ids.give(back: 1)
        ids.give(back: 2)
        let reused = ids.take()
        #expect(reused == 3, "nobody connected knew 3 any more")
        #expect(ids.take() == 1, "nor 1: the peer holding 3 joined after it left")
        #expect(ids.take() == 2)
        #expect(ids.take() == nil)
        ids.give(back: 42)
        #expect(ids.take() == nil, "an id never handed out is not given back")
    }

    /// Host programs sit on seats: joining again and again takes the same
    /// id, the guest never hears of a departure (it would free that peer and
    /// crash when the id came back) and rings the new program through the
    /// eventfd it already holds; a ninth program at once is refused.
    @Test func hostProgramsComeAndGoOnSeatsTheGuestsAlreadyKnow() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (server, table) = try server(["ev"])
        defer { server.stop() }
        let guest = try FakeQEMU(socketPath)
        #expect(guest.id == IvshmemServer.hostSeats + 1)
        let seatBell = try #require(guest.fds[1], "the guest knows seat 1 from its join")
        table.addWaiter(0, peer: UInt32(guest.id))
        var count: UInt64 = 0
        for _ in 1...20 {
            let peer = try DoorbellPeer.join(socketPath: hostSocket, names: ["ev"])
            #expect(peer.id == 1, "the same seat every time")
            count += 1
            #expect(peer.signal(0) == count && guest.rang(), "the guest is rung")
            // The guest rings seat 1 through the descriptor it got at its own join.
            let seen = count
            let woke = Thread.detachNewThreadResult { peer.wait(0, after: seen, timeout: 10) }
            #expect(wait(until: { table.waiters(0).contains(1) }))
            count = table.increment(0)
            var one: UInt64 = 1
            _ = write(seatBell, &one, 8)
            #expect(woke.value(timeout: 5) == .some(.some(count)))
            peer.leave()
            #expect(wait(until: { server.peerCount == 1 && !table.waiters(0).contains(1) }), "the seat is free again, its waits forgotten")
        }
        #expect(guest.next(1).map(\.0) == [-99], "the guest heard of no departure (nothing more was sent)")

        let eight = try (1...IvshmemServer.hostSeats).map { _ in try DoorbellPeer.join(socketPath: hostSocket, names: ["ev"]) }
        #expect(Set(eight.map(\.id)) == Set(1...IvshmemServer.hostSeats))
        let refused = #expect(throws: HVError.self, "a ninth program at once finds no seat") {
            try DoorbellPeer.join(socketPath: hostSocket, names: ["ev"], timeout: 1)
        }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("every host seat is taken"), "\(String(describing: refused))")
        for p in eight { p.leave() }
        #expect(wait(until: { server.peerCount == 1 }))
    }

    /// A peer that never reads fills its socket with the others' comings and
    /// goings; the server drops it at the send deadline instead of blocking
    /// its accept thread, and the next guest still joins.
    @Test func aPeerThatNeverReadsDoesNotStopTheNextJoin() throws {
        let (server, _) = try server(["ev"])
        defer { server.stop() }
        let stalled = try UnixSocket.connect(to: socketPath)
        defer { stalled.close() }
        var dropped = false
        for _ in 0..<3000 where !dropped {
            // A guest that comes and goes: its join and its departure are announced to the stalled one.
            let passing = try UnixSocket.connect(to: socketPath)
            passing.close()
            // POLLRDHUP (0x2000, not in Swift's Glibc): the server shut its end.
            var p = pollfd(fd: stalled.fd, events: 0x2000, revents: 0)
            dropped = poll(&p, 1, 0) == 1 && p.revents & (0x2000 | Int16(POLLHUP)) != 0
        }
        #expect(dropped, "the stalled peer was cut off")
        // Patient on a loaded host: the server first works off the comings and goings still queued.
        let next = try FakeQEMU(socketPath, patience: 20_000)
        #expect(next.id > 0 && next.own >= 0, "a guest after it joins at once")
    }

    /// Only the QEMU users of guests the events list may join, one connection each.
    @Test(.enabled(if: geteuid() == 0, "needs root: the peers run as guest users"))
    func onlyTheGuestsUsersJoinOnceEach() throws {
        let allowed = GuestIdentity.uidBase + 123, other = GuestIdentity.uidBase + 124
        let table = try EventMemory(path: dir.appendingPathComponent("events").path, names: ["ev"])
        let server = try IvshmemServer(socketPath: socketPath, hostSocketPath: hostSocket, table: table, allowedUsers: [allowed])
        try server.start(share: HostPermissions.shareSocket)  // as hvd opens it to the guests' group
        defer { server.stop() }
        chmod(dir.path, 0o755)
        // A peer as `uid`: connects and says how many bytes of the server's hello came, holding on for `hold` seconds.
        func join(as uid: UInt32, hold: Double = 0) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = [
                "--reuid=\(uid)", "--regid=\(GuestIdentity.sharedGroup())", "--clear-groups", "/usr/bin/python3", "-c",
                """
                import socket, sys, time
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(3)
                try: n = len(s.recv(8))
                except Exception: n = -1
                print(n, flush=True); time.sleep(float(sys.argv[2]))
                """, socketPath, String(hold),
            ]
            p.standardOutput = Pipe()
            try p.run()
            return p
        }
        func hello(_ p: Process) -> String {
            let out = (p.standardOutput as? Pipe)?.fileHandleForReading.availableData ?? Data()
            return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let first = try join(as: allowed, hold: 4)
        #expect(hello(first) == "8", "the guest's user gets the hello")
        let second = try join(as: allowed)
        second.waitUntilExit()
        #expect(hello(second) == "0", "a second connection of the same user is closed at once")
        let stranger = try join(as: other)
        stranger.waitUntilExit()
        #expect(hello(stranger) == "0", "a user of no listed guest is closed at once")
        first.waitUntilExit()
        #expect(wait(until: { server.peerCount == 0 }))
        let again = try join(as: allowed)
        again.waitUntilExit()
        #expect(hello(again) == "8", "once the first left, the guest's user joins again")
    }

    @Test func theWakeBudgetDelaysNothingUntilAGuestRingsWithoutPause() {
        final class Clock: @unchecked Sendable {
            var t: UInt64 = 5_000_000
            var slept: [UInt64] = []
        }
        let clock = Clock()
        var budget = WakeBudget(
            now: { clock.t },
            sleep: {
                clock.slept.append($0)
                clock.t += $0
            })
        for _ in 0..<WakeBudget.perWindow {
            let slept = budget.spend()
            #expect(!slept)
        }
        clock.t += 400_000
        let eleventh = budget.spend()
        #expect(eleventh, "the eleventh in one millisecond sleeps")
        #expect(clock.slept == [600_000], "out the rest of the millisecond")
        clock.t += 2_000_000
        let later = budget.spend()
        #expect(!later, "a new window: at once again")
    }

    func wait(until condition: () -> Bool) -> Bool {
        for _ in 0..<100 {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }
}
