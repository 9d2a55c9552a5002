import ArgumentParser
import Foundation
import HVAPI
import HVCore
import HVEvents

#if canImport(Glibc)
import Glibc
#endif

/// `hv net`, `hv shm`, `hv event`: the communication subsystem from the host.
struct NetGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net", abstract: "The VMF's virtual network.",
        subcommands: [Status.self, Attach.self, Detach.self, Exec.self])

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The network, its guests and their addresses.")
        @Flag(help: "JSON for scripts.") var json = false
        func run() throws {
            let c = try Context().api.get(.commStatus, as: CommStatus.self)
            if json { return FileHandle.standardOutput.write(APIJSON.encode(c) + Data("\n".utf8)) }
            Out.say("network \(c.subnet) (\(c.mode)\(c.bridgeInterface.map { " onto \($0)" } ?? ""))")
            var rows = [["GUEST", "ADDRESS", "MAC"]]
            for m in c.members { rows.append([m.folder, m.address, m.mac]) }
            rows.append(["(host)", c.hostAddress + (c.hostAttached ? "" : " (not attached)"), "-"])
            Out.say(Out.table(rows))
            if c.hostAttached {
                Out.say("the host's interface is in network namespace \(c.namespace): hv net exec -- ping \(c.members.first?.address ?? c.hostAddress)")
            }
        }
    }
    struct Attach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give the host an interface on the network, inside hv's own network namespace (never routed).")
        func run() throws {
            let c = try Context().api.post(.netAttach, [String: String](), as: CommStatus.self)
            Out.say("the host is \(c.hostAddress) on \(c.subnet), in network namespace \(c.namespace)")
            Out.say("reach the guests with: hv net exec -- ping \(c.members.first?.address ?? "ADDRESS")   (or: ip netns exec \(c.namespace) …)")
        }
    }
    struct Detach: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the host's interface (and hv's namespace).")
        func run() throws {
            _ = try Context().api.post(.netDetach, [String: String](), as: CommStatus.self)
            Out.say("the host left the VMF network")
        }
    }
    struct Exec: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a command in hv's network namespace: hv net exec -- ping 10.77.0.1")
        @Argument(parsing: .captureForPassthrough, help: "The command and its arguments") var command: [String] = []
        func run() throws {
            let c = try Context().api.get(.commStatus, as: CommStatus.self)
            guard c.hostAttached else {
                throw HVError(.conflict, "the host is not attached to the VMF network", hint: "run hv net attach first")
            }
            try NamespaceExec.exec(namespace: c.namespace, Array(command.drop { $0 == "--" }))
        }
    }
}

struct ShmGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shm", abstract: "Shared-memory regions (hv.config [SharedMemory\\NAME]), from the host.",
        subcommands: [List.self, Read.self, Write.self])

    static func region(_ name: String) throws -> CommStatus.Region {
        let c = try Context().api.get(.commStatus, as: CommStatus.self)
        guard let r = c.regions.first(where: { $0.name == name }) else {
            throw HVError(
                .notFound, "there is no shared-memory region \"\(name)\"",
                hint: c.regions.isEmpty
                    ? "declare one in hv.config: [SharedMemory\\NAME] with \"SizeKiB\" and \"Guests\""
                    : "the regions are: " + c.regions.map(\.name).joined(separator: ", "))
        }
        return r
    }

    static func checkRange(_ r: CommStatus.Region, offset: Int, length: Int) throws {
        guard offset >= 0, length >= 0, offset + length <= r.sizeKiB * 1024 else {
            throw HVError(.invalidArgument, "bytes \(offset)..<\(offset + length) are outside region \(r.name) (\(r.sizeKiB * 1024) bytes)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The regions, their sizes, files and guests.")
        func run() throws {
            let c = try Context().api.get(.commStatus, as: CommStatus.self)
            var rows = [["REGION", "SIZE", "GUESTS", "FILE"]]
            for r in c.regions { rows.append([r.name, "\(r.sizeKiB) KiB", r.guests.joined(separator: ","), r.path]) }
            Out.say(Out.table(rows))
        }
    }
    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print bytes of a region (up to the first NUL without LENGTH).")
        @Argument var name: String
        @Argument var offset: Int = 0
        @Argument var length: Int?
        @Flag(help: "Hex dump instead of text.") var hex = false
        func run() throws {
            let r = try ShmGroup.region(name)
            let len = length ?? min(4096, r.sizeKiB * 1024 - offset)
            try ShmGroup.checkRange(r, offset: offset, length: len)
            let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: r.path))
            defer { try? h.close() }
            try h.seek(toOffset: UInt64(offset))
            var data = try h.read(upToCount: len) ?? Data()
            if hex { return Out.say(data.map { String(format: "%02x", $0) }.joined(separator: " ")) }
            if length == nil, let nul = data.firstIndex(of: 0) { data = data[..<nul] }
            FileHandle.standardOutput.write(data)
            if length == nil { Out.say("") }
        }
    }
    struct Write: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write text (NUL-terminated) into a region at OFFSET.")
        @Argument var name: String
        @Argument var offset: Int
        @Argument var data: String
        func run() throws {
            let r = try ShmGroup.region(name)
            let bytes = Data(data.utf8) + Data([0])
            try ShmGroup.checkRange(r, offset: offset, length: bytes.count)
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: r.path))
            defer { try? h.close() }
            try h.seek(toOffset: UInt64(offset))
            try h.write(contentsOf: bytes)
            Out.say("wrote \(bytes.count) bytes to \(r.name) at \(offset)")
        }
    }
}

struct EventGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event", abstract: "Named events (hv.config [Event\\NAME]): doorbells between guests and the host.",
        subcommands: [List.self, Signal.self, Wait.self, Session.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The events, their guests and how often each was signalled.")
        @Flag(
            help: """
                Per events table, one line: its socket for host programs and its events in slot order, \
                comma-separated (what hv_events_join in include/hv/hv_events.h takes).
                """)
        var names = false
        func run() throws {
            let c = try Context().api.get(.commStatus, as: CommStatus.self)
            if names {
                for table in Set(c.events.map(\.table)).sorted() {
                    let events = c.events.filter { $0.table == table }
                    Out.say((events.first?.hostSocket ?? "") + " " + events.map(\.name).joined(separator: ","))
                }
                return
            }
            var rows = [["EVENT", "SIGNALLED", "TABLE", "GUESTS"]]
            for e in c.events { rows.append([e.name, String(e.count), String(e.table), e.guests.joined(separator: ",")]) }
            Out.say(Out.table(rows))
        }
    }
    struct Signal: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Signal an event: wakes every waiter (guests and host).")
        @Argument var name: String
        func run() throws {
            let r = try Context().api.post(.eventSignal(name), EventRequest(), as: EventResult.self)
            Out.say("signalled \(r.name) (count \(r.count))")
        }
    }
    /// One connection for many events: a program writes lines to its stdin and reads the answers from its stdout.
    struct Session: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Signal and wait for events over one connection: a line in, a line out (for programs).",
            discussion: """
                Lines in: signal NAME | wait NAME AFTER [SECONDS] | count NAME. \
                Lines out: NAME COUNT, timeout NAME COUNT, or error WHAT (the session goes on). \
                No HTTP request per event: a program keeps one hv event session running and talks to it through pipes. \
                Run by root, the session joins the guests' doorbells itself (hvd hands it each events table and \
                their eventfds once, and is not in the path afterwards); otherwise each line goes through hvd.
                """)
        @Flag(help: "Join the doorbells directly or fail (root; the VMF loaded with events).") var direct = false
        @Flag(help: "Send every line through hvd, even where the doorbells could be joined.") var throughHvd = false

        func run() throws {
            let ctx = Context()
            guard !(direct && throughHvd) else {
                throw HVError(.invalidArgument, "--direct and --through-hvd contradict each other", hint: "give one of them, or neither")
            }
            if !throughHvd, let peers = try DirectEventSession.join(ctx, required: direct) {
                return try DirectEventSession.serve(peers)
            }
            let (conn, early) = try ctx.api.openStream(.eventSession)
            defer { conn.close() }
            // hvd's answers to stdout as they come; the session ends when either side closes.
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                if !early.isEmpty { FileHandle.standardOutput.write(early) }
                while let chunk = try? conn.read(timeout: nil) { FileHandle.standardOutput.write(chunk) }
                done.signal()
            }
            while let line = readLine(strippingNewline: false) {
                guard (try? conn.write(Data(line.utf8))) != nil else { break }
            }
            conn.shutdownWrite()
            done.wait()
        }
    }
    struct Wait: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Wait until an event is signalled (after now).")
        @Argument var name: String
        @Option(help: "Give up after this many seconds (exit 12).") var timeout: Double = 60
        func run() throws {
            let r = try Context().api.post(
                .eventWait(name), EventRequest(timeoutSeconds: timeout),
                as: EventResult.self, timeout: timeout + 10)
            Out.say("\(r.name) signalled (count \(r.count))")
        }
    }
}

/// Becomes a command inside hv's network namespace (`ip netns exec`): its exit status is the command's.
enum NamespaceExec {
    static func exec(namespace: String, _ command: [String]) throws -> Never {
        let argv = ["ip", "netns", "exec", namespace] + command
        let cargs = argv.map { strdup($0) } + [nil]
        // The command starts clean: whatever signals our caller blocked or ignored
        // (a test harness blocks SIGALRM, which ping's -W needs) are its defaults again.
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        for sig in [SIGALRM, SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { signal(sig, SIG_DFL) }
        execvp("ip", cargs)
        throw HVError.posix("exec ip", errno: errno)
    }
}
