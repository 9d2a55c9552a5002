import Foundation
import HVAPI
import HVCore
import HVEngine
import HVEvents
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// hvd, the VMF host service. It may be killed at any moment: guests run in
/// sessions of their own and a new hvd re-adopts them from run/.
public enum DaemonMain {
    public static func run() -> Never {
        let layout = HostLayout.fromEnvironment()
        do {
            try serve(layout)
        } catch {
            FileHandle.standardError.write(Data("hvd: \(error)\n".utf8))
            exit((error as? HVError)?.code.exitStatus ?? 1)
        }
    }

    static func serve(_ layout: HostLayout) throws -> Never {
        signal(SIGPIPE, SIG_IGN)
        // Nothing hvd creates is readable or writable by others unless its mode says so explicitly.
        umask(0o077)
        try layout.ensureDirectories()
        HostPermissions.prepareRunDir(layout)
        // One hvd per host root: the lock answers "is one running?".
        let lockFD = open(layout.daemonLock.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw HVError.posix("cannot open \(layout.daemonLock.path)", errno: errno) }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            FileHandle.standardError.write(Data("hvd: already running for \(layout.root.path)\n".utf8))
            exit(0)
        }
        try AtomicFile.write("\(getpid())\n", to: layout.runDir.appendingPathComponent("hvd.pid"), mode: 0o600)
        // Not the directory of whichever command started us: it may be a guest folder that goes away.
        _ = FileManager.default.changeCurrentDirectoryPath("/")

        let ctx = DaemonContext(layout: layout)
        ctx.log.info("hvd \(getpid()) starting for \(layout.root.path); \(ctx.facts.cpuCount) CPUs; VMF \(ctx.vmf.current == nil ? "not loaded" : "loaded")")
        ctx.adoptRunningGuests()
        ctx.mountExchangeFolders()

        let listener = try UnixSocket.listen(at: layout.daemonSocket.path, mode: 0o600)
        let stop: @Sendable () -> Void = {
            SystemdNotify.send("STOPPING=1")
            ctx.log.info("hvd \(getpid()) stopping; guests keep running")
            // A qualification is hvd's: it ends with it, as interrupted, keeping what was measured.
            for s in ctx.allSupervisors {
                if let job = s.shared.withLock({ $0.qualification }), !job.isEnded {
                    job.end(.interrupted, note: "hvd stopped during the run; what was measured until then is kept")
                }
            }
            // The loopback rule stays while any guest runs (they outlive hvd); a new hvd renews it.
            if !ctx.allSupervisors.contains(where: { $0.currentState.isActive }) { LoopbackGuard(layout: layout).remove() }
            unlink(layout.daemonSocket.path)
            exit(0)
        }
        let routes = Routes(
            ctx: ctx,
            shutdownDaemon: {
                // Answer first, then leave.
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { stop() }
            })
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop() }
            source.resume()
            signalSources.append(source)
        }
        startHousekeeping(ctx)
        if let note = LoopbackGuard(layout: layout).install() { ctx.log.info(note) }
        do { try ManagerServer(ctx: ctx, routes: routes).start() } catch {
            ctx.log.info("System Manager not started: \(error)")
        }
        // Ready only now: the socket answers and running guests are adopted
        // (systemd's Type=notify; `systemctl start hvd` returns here).
        let running = ctx.allSupervisors.filter { $0.currentState == .running }.count
        ctx.events.post(.daemonStarted, "pid \(getpid()), version \(BuildInfo.version); \(running) running guest\(running == 1 ? "" : "s") adopted")
        SystemdNotify.send("READY=1\nSTATUS=serving \(layout.daemonSocket.path); \(running) guest\(running == 1 ? "" : "s") running")
        Listener(listener, name: layout.daemonSocket.path, maxConnections: 256).run(log: ctx.log) { conn in
            serveConnection(conn, routes: routes)
        }
    }

    nonisolated(unsafe) static var signalSources: [DispatchSourceSignal] = []

    static func serveConnection(_ conn: UnixSocket, routes: Routes) {
        // The socket is root's only (0600), and peers are checked again here.
        let cred = conn.peerCredentials()
        if let uid = cred?.uid, uid != 0 && uid != geteuid() {
            _ = try? conn.write(HTTPResponse.error(HVError(.invalidArgument, "hvd answers root only")).serialized())
            return
        }
        let reader = LineReader(conn)
        guard let req = readRequest(conn, reader) else { return }
        switch routes.handle(req, peerPid: cred?.pid) {
        case .response(let r):
            try? conn.write(r.serialized())
        case .eventSession(let server):
            EventSession.serve(conn, reader: reader, server: server)
        case .console(let sup, let replay, let who):
            do { try sup.attachConsole(client: conn, who: who, replay: replay) } catch let e as HVError {
                try? conn.write(HTTPResponse.error(e).serialized())
            } catch {
                try? conn.write(HTTPResponse.error(HVError(.internal, "\(error)")).serialized())
            }
        }
    }

    /// Keeps console logs under their caps, and hvd's own log under 8 MiB.
    static func startHousekeeping(_ ctx: DaemonContext) {
        let log = ctx.layout.daemonLog
        let t = Thread {
            while true {
                sleep(2)
                for s in ctx.allSupervisors { s.rotateConsoleLog() }
                LogRotation.rotateIfNeeded(log, to: log.appendingPathExtension("1"), maxBytes: 8 << 20)
            }
        }
        t.start()
    }
}
