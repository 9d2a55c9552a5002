import Foundation
import HVCore
import HVEngine

/// The console broker: one interactive client per guest, proxied to the
/// guest's serial socket. Every byte the guest prints is in console.log
/// anyway (QEMU writes it there, connected client or not); a client that
/// attaches first gets the part it asked for replayed from that log.
extension GuestSupervisor {
    enum Replay: String { case boot, tail, none }

    func attachConsole(client: UnixSocket, who: String, replay: Replay) throws {
        cond.lock()
        guard state == .running || state == .stalled || state == .starting else {
            let s = state
            cond.unlock()
            throw HVError(.conflict, "guest \(folder.name) is \(s.rawValue): there is no console to open",
                          hint: "start it with hv_guest_start (or hv_guest_start -view to watch it boot)")
        }
        if let holder = consoleHolder {
            cond.unlock()
            throw HVError(.conflict, "the console of \(folder.name) is already open: \(holder)",
                          hint: "only one console per RTOS guest; detach the other one with Ctrl-]")
        }
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        let since = f.string(from: Date())
        consoleHolder = "held by \(who) since \(since)"
        let bootOffset = record?.bootLogOffset ?? 0
        cond.unlock()
        defer { cond.lock(); consoleHolder = nil; cond.unlock() }

        let serial: UnixSocket
        do { serial = try UnixSocket.connect(to: folder.serialSocket.path, timeout: 3) } catch {
            throw HVError(.io, "cannot reach the serial console of \(folder.name): \(error)")
        }
        try client.write(HTTPResponse(status: 101, headers: ["Upgrade": "hv-console", "Connection": "Upgrade"]).serialized())
        let size = FileSize.of(folder.consoleLog)
        let from: UInt64 = switch replay {
        case .boot: min(bootOffset, size)
        case .tail: size > 4096 ? size - 4096 : 0
        case .none: size
        }
        if from < size { try? client.write(FileSize.read(folder.consoleLog, from: from, max: Int(size - from))) }
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
