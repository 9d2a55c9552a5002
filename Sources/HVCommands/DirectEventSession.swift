import Foundation
import HVAPI
import HVCore
import HVEvents

#if canImport(Glibc)
import Glibc
#endif

/// `hv event session` as a doorbell peer of its own: the same lines as the
/// session hvd serves (`EventLines`), answered here, so a signal or a wait
/// costs no round trip through hvd.
enum DirectEventSession {
    /// The peers, one per events table, or nil when the doorbells cannot be
    /// joined and `required` is false (not root, no VMF, no events): the
    /// caller then goes through hvd.
    static func join(_ ctx: Context, required: Bool) throws -> [DoorbellPeer]? {
        // Not root (the sockets are root's only) or no VMF: the ordinary cases for going through hvd.
        let first = ctx.layout.eventsHostSocket(set: 1).path
        guard access(first, R_OK | W_OK) == 0 else {
            guard required else { return nil }
            throw HVError.posix("cannot use the doorbells' socket \(first) (root only; is the VMF loaded with events?)", errno: errno)
        }
        var peers: [DoorbellPeer] = []
        do {
            let events = try ctx.api.get(.commStatus, as: CommStatus.self).events
            guard !events.isEmpty else {
                guard required else { return nil }  // hvd gives the same answer
                throw HVError.noEventDeclared
            }
            for table in Set(events.map(\.table)).sorted() {
                let names = events.filter { $0.table == table }.map(\.name)
                peers.append(try DoorbellPeer.join(socketPath: ctx.layout.eventsHostSocket(set: table).path, names: names))
            }
            return peers
        } catch {
            for peer in peers { peer.leave() }
            if required { throw error }
            FileHandle.standardError.write(Data("hv: the doorbells could not be joined (\(error)); each line goes through hvd\n".utf8))
            return nil
        }
    }

    static func serve(_ peers: [DoorbellPeer]) throws {
        defer { for peer in peers { peer.leave() } }
        let events = EventSets(peers)
        while let line = readLine(strippingNewline: true) {
            guard line.utf8.count <= EventLines.maxLine else {
                say(EventLines.tooLong)
                return
            }
            let reply = EventLines.answer(line, server: events)
            guard !peers.contains(where: \.isClosed) else {
                say("error the events server has gone (hvd stopped or the VMF was unloaded); the session ends")
                throw HVError(.daemonUnavailable, "the events server has gone", hint: "load the VMF again, then start a new session")
            }
            say(reply)
        }
    }

    /// One answer, written at once (stdout is a pipe: no buffering may hold it back).
    private static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
