import Foundation
import HVAPI
import HVCore
import HVEngine

/// The console broker: one interactive client per guest, proxied to the
/// guest's serial socket. Every byte the guest prints is in console.log
/// anyway (QEMU writes it there, connected client or not); a client that
/// attaches first gets the part it asked for replayed from that log.
extension GuestSupervisor {
    enum Replay: String { case boot, tail, none }

    func attachConsole(client: UnixSocket, who: String, replay: Replay) throws {
        let bootOffset = try shared.withLock { s in
            guard s.state == .running || s.state == .stalled || s.state == .starting else {
                throw HVError(
                    .conflict, "guest \(folder.name) is \(s.state.rawValue): there is no console to open",
                    hint: "start it with hv_guest_start (or hv_guest_start -view to watch it boot)")
            }
            if let holder = s.consoleHolder {
                throw HVError(
                    .conflict, "the console of \(folder.name) is already open: \(holder)",
                    hint: "only one console per RTOS guest; detach the other one with Ctrl-]")
            }
            s.consoleHolder = "held by \(who) since \(Timestamp.clock()) UTC"
            return s.record?.bootLogOffset ?? 0
        }
        defer { shared.withLock { $0.consoleHolder = nil } }

        let serial: UnixSocket
        do { serial = try UnixSocket.connect(to: folder.serialSocket.path, timeout: 3) } catch {
            throw HVError(.io, "cannot reach the serial console of \(folder.name): \(error)")
        }
        try client.write(HTTPResponse(status: 101, headers: ["Upgrade": "hv-console", "Connection": "Upgrade"]).serialized())
        let size = FileSize.of(folder.consoleLog)
        let from: UInt64 =
            switch replay {
            case .boot: min(bootOffset, size)
            case .tail: size > 4096 ? size - 4096 : 0
            case .none: size
            }
        if from < size { try? client.write(ConsoleReplay.scrub(FileSize.read(folder.consoleLog, from: from, max: Int(size - from)))) }
        ctx.log.info("\(folder.name): console attached (\(who))")

        // Input: client → guest, on its own thread; output on this one.
        let input = Thread {
            while let data = try? client.read(), !data.isEmpty {
                if (try? serial.write(data)) == nil { break }
            }
            serial.shutdown()
        }
        input.start()
        while let data = try? serial.read(), !data.isEmpty {
            if (try? client.write(data)) == nil { break }
        }
        client.shutdown()
        serial.shutdown()
        ctx.log.info("\(folder.name): console detached (\(who))")
    }
}

/// What the console log replays to a newly attached terminal.
enum ConsoleReplay {
    /// busybox's shell asks the terminal for the cursor position (ESC [ 6 n)
    /// after each prompt. Replayed from the log, those old questions made
    /// the new terminal answer them, and the answers arrived at the guest's
    /// prompt as typed garbage (`^[[24;1R`): they are left out of the replay.
    static func scrub(_ data: Data) -> Data {
        let query: [UInt8] = [0x1B, 0x5B, 0x36, 0x6E]
        let bytes = [UInt8](data)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x1B, i + 4 <= bytes.count, Array(bytes[i..<(i + 4)]) == query {
                i += 4
                continue
            }
            out.append(bytes[i])
            i += 1
        }
        return Data(out)
    }
}
