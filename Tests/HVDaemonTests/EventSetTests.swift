import Foundation
import HVCore
import HVEvents
import HVHost
import Testing

@testable import HVDaemon

#if canImport(Glibc)
import Glibc
#endif

/// Events are enforced per set of guests: hvd serves a table and a doorbell
/// server per set, so a guest's QEMU (here a stand-in running as that
/// guest's user) can reach only the events that list its guest. Before,
/// one table held every event: a guest listed for one event could raise
/// every other's count and ring every other guest.
@Suite(.serialized) struct EventSetTests {
    static let config = """
        [Hypervisor]
            "Project"="t"
        [Guests\\guestcontrol]
            "Id"="41"
            "Name"="Control"
            "Os"="ubuntu"
        [Guests\\guesthmi]
            "Id"="42"
            "Name"="HMI"
            "Os"="ubuntu"
        [Event\\estop]
            "Guests"="guestcontrol, guesthmi"
        [Event\\rtonly]
            "Guests"="guestcontrol"

        """

    /// Joins an ivshmem server as `uid` and runs `body` (Python) with `s`,
    /// `msgs` (every (value, fd) of the handshake), `me`, `table` (its
    /// mapping) and `own` (its doorbell); prints what `body` prints.
    func peer(_ uid: UInt32, _ body: String, args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments =
            [
                "--reuid=\(uid)", "--regid=\(GuestIdentity.sharedGroup())", "--clear-groups", "/usr/bin/python3", "-c",
                """
                import mmap, os, select, socket, struct, sys, time
                def join(path):
                    s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(3)
                    msgs = []
                    while True:
                        try: data, fds, _, _ = socket.recv_fds(s, 8, 1)
                        except Exception: break
                        if len(data) < 8: break
                        msgs.append((struct.unpack('<q', data)[0], fds[0] if fds else -1))
                        if len(msgs) > 3 and msgs[-1][0] == msgs[1][0] and msgs[-1][1] >= 0: break
                    return s, msgs
                \(body)
                """,
            ] + args
        p.standardOutput = Pipe()
        try p.run()
        return p
    }

    func output(_ p: Process) -> String {
        p.waitUntilExit()
        let data = (p.standardOutput as? Pipe)?.fileHandleForReading.readDataToEndOfFile() ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The communication subsystem of `config` on a scratch root, started.
    func started() throws -> (CommRuntime, HostLayout) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-evsets-\(UUID().uuidString.prefix(8))")
        let layout = HostLayout(root: root)
        try FileManager.default.createDirectory(at: layout.runDir, withIntermediateDirectories: true)
        let hv = try HypervisorConfig(try RegistryDocument(parsing: Self.config, fileName: "hv.config"))
        let runtime = CommRuntime(layout: layout, config: hv.communication, guestIDs: CommRuntime.ids(hv))
        try runtime.start()
        return (runtime, layout)
    }

    @Test(.enabled(if: geteuid() == 0, "needs root: the stand-in QEMUs run as the guests' users"))
    func aGuestReachesOnlyTheEventsThatListIt() throws {
        let (runtime, layout) = try started()
        defer {
            runtime.stop()
            try? FileManager.default.removeItem(at: layout.root)
        }
        let events = try #require(runtime.events)
        let control = GuestIdentity.forGuest(id: 41, folder: "guestcontrol").uid
        let hmi = GuestIdentity.forGuest(id: 42, folder: "guesthmi").uid
        let (both, controlOnly) = (layout.ivshmemSocket(set: 1).path, layout.ivshmemSocket(set: 2).path)

        // The control guest's doorbell on its own set: a waiter of rtonly, counting its rings for 8 s.
        let waiter = try peer(
            control,
            """
            s, msgs = join(sys.argv[1]); me = msgs[1][0]; own = msgs[-1][1]
            table = mmap.mmap(msgs[2][1], 65536)
            struct.pack_into('<H', table, 64 + 48, me + 1)
            print('joined', me, flush=True)
            end = time.time() + 8; total = 0
            while time.time() < end:
                r, _, _ = select.select([own], [], [], max(0, end - time.time()))
                if r: total += struct.unpack('<Q', os.read(own, 8))[0]
            print('rung', total, flush=True)
            """, args: [controlOnly])
        let server2 = try #require(events.parts.last as? IvshmemServer)
        let deadline = Date().addingTimeInterval(10)
        while server2.peerCount < 1 && Date() < deadline { usleep(50_000) }
        #expect(server2.peerCount == 1, "the control guest's user joins its own set")

        // The HMI guest, hostile: tries the control guest's set, then in its own table raises every
        // counter, writes itself into every waiter entry, and rings every peer it was told of.
        let attack = output(
            try peer(
                hmi,
                """
                s2, m2 = join(sys.argv[2]); print('other-set', len(m2))
                s, msgs = join(sys.argv[1]); me = msgs[1][0]
                table = mmap.mmap(msgs[2][1], 65536)
                for i in range(64):
                    off = 64 + i * 128
                    struct.pack_into('<Q', table, off + 32, struct.unpack_from('<Q', table, off + 32)[0] + 1)
                    for n in range(40): struct.pack_into('<H', table, off + 48 + 2 * n, me + 1)
                peers = [v for v, fd in msgs[3:] if fd >= 0 and v != me]
                for v, fd in msgs[3:]:
                    if fd >= 0 and v != me: os.write(fd, struct.pack('<Q', 1))
                print('own-set', me, len(peers), flush=True)
                """, args: [both, controlOnly]))
        #expect(attack.contains("other-set 0"), "the control guest's set refuses the HMI's user: \(attack)")
        #expect(attack.contains("own-set"), "the HMI joins its own set: \(attack)")
        #expect(events.counter(named: "estop") == 1, "its own table it may scribble on")
        #expect(events.counter(named: "rtonly") == 0, "rtonly's count is out of its reach")

        // hvd's signal of rtonly rings the waiter once; nothing the HMI did reached it.
        let rtonly = try #require(events.eventNames.firstIndex(of: "rtonly"))
        #expect(events.signal(rtonly) == 1)
        let heard = output(waiter)
        #expect(heard.contains("joined") && heard.contains("rung 1\n"), "one ring, hvd's: \(heard)")
    }

    /// A table and a server per set; their files and sockets go with the runtime.
    @Test(.enabled(if: geteuid() == 0, "needs root: /dev/shm/hv is root's"))
    func eachSetHasItsTableAndSockets() throws {
        let (runtime, layout) = try started()
        // Stopped in the test as well (what the stop removes is checked); a second stop changes nothing.
        defer {
            runtime.stop()
            try? FileManager.default.removeItem(at: layout.root)
        }
        let events = try #require(runtime.events)
        #expect(events.parts.compactMap { ($0 as? IvshmemServer)?.table.names } == [["estop"], ["rtonly"]])
        for set in [1, 2] {
            #expect(FileManager.default.fileExists(atPath: layout.ivshmemSocket(set: set).path))
            #expect(FileManager.default.fileExists(atPath: layout.eventsHostSocket(set: set).path))
            #expect(FileManager.default.fileExists(atPath: layout.eventsRegion(set: set).path))
        }
        let status = runtime.status(runningGuests: [])
        #expect(status.events.map(\.table) == [1, 2])
        #expect(status.events.map(\.hostSocket) == [layout.eventsHostSocket(set: 1).path, layout.eventsHostSocket(set: 2).path])
        // A host program joins a set's table by that set's names.
        let peer = try DoorbellPeer.join(socketPath: layout.eventsHostSocket(set: 2).path, names: ["rtonly"])
        #expect(peer.signal(0) == 1 && events.counter(named: "rtonly") == 1 && events.counter(named: "estop") == 0)
        peer.leave()
        runtime.stop()
        for set in [1, 2] {
            #expect(!FileManager.default.fileExists(atPath: layout.ivshmemSocket(set: set).path))
            #expect(!FileManager.default.fileExists(atPath: layout.eventsRegion(set: set).path))
        }
        #expect(runtime.events == nil)
    }
}
