import Foundation
import HVCore
import HVEngine
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// Debian's archive for the guests, and nothing else: hvd listens on the
/// host's VMF address (port 9999, in hv's namespace, so only guests on the
/// VMF network reach it) and hands each connection to Debian's approx, a
/// caching proxy for Debian archives made to be started per connection
/// (as inetd and systemd's socket do), as approx's own unprivileged user.
/// approx serves only the repositories hv maps (Debian and its security
/// archive) and fetches them with curl from the host; the guest itself has
/// no route anywhere. Started with the host's seat, stopped with it.
final class PackageProxy: Sendable {
    static let port = 9999
    /// Connections at once: apt opens a few; past this a guest's connection is closed.
    static let maxConnections = 16
    /// A download that takes longer than this is ended (approx's own timeouts come first).
    static let connectionSeconds = 1800.0
    static let user = "approx"

    private struct State {
        var listener: Int32 = -1
        var running = false
        var connections = 0
    }
    private let state = Monitor(State())
    let layout: HostLayout
    private let stopped = DispatchSemaphore(value: 0)

    init(layout: HostLayout) { self.layout = layout }

    /// approx's words from hv (the repositories it maps, its cache), readable by its user:
    /// run/ is not (0710, the guests' group), /run/hv is root's and 0711.
    var configFile: URL { URL(fileURLWithPath: "/run/hv/\(layout.instanceID)-approx.conf") }
    /// Beside hv setup's downloads, so packages outlive hv roots and restarts.
    static var cacheDir: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["HV_CACHE"] ?? "/var/cache/hv").appendingPathComponent("approx")
    }

    /// The repositories: what the guests' sources.list names (http://HOST:9999/debian, /security).
    static let repositories = ["debian http://deb.debian.org/debian", "security http://deb.debian.org/debian-security"]

    func start(hostAddress: String) throws {
        guard Executables.find("approx") != nil, let pw = getpwnam(Self.user) else {
            throw HVError(.notFound, "approx is not installed: the guests get no packages", hint: "run hv setup (it installs approx)")
        }
        let fm = FileManager.default
        try HostPermissions.ensureOwnedDirectory(configFile.deletingLastPathComponent(), group: 0, mode: 0o711)
        try fm.createDirectory(at: Self.cacheDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        guard chown(Self.cacheDir.path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else { throw HVError.posix("chown \(Self.cacheDir.path)", errno: errno) }
        let config = (Self.repositories + ["$cache \(Self.cacheDir.path)", "$user \(Self.user)", "$group \(Self.user)"]).joined(separator: "\n") + "\n"
        try AtomicFile.write(Data(config.utf8), to: configFile, mode: 0o644)
        let fd = HostNetwork.socketInNamespace(layout, address: hostAddress, port: Self.port, stream: true)
        guard fd >= 0 else {
            throw HVError(.io, "the guests' package proxy on \(hostAddress):\(Self.port) could not start: \(String(cString: strerror(-fd)))")
        }
        let identity = GuestIdentity(uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid, groups: [])
        state.withLock {
            $0.listener = fd
            $0.running = true
        }
        Thread.detachNewThread { [self] in
            acceptLoop(fd, identity: identity)
            stopped.signal()
        }
    }

    func stop() {
        let (fd, wasRunning) = state.withLock { s -> (Int32, Bool) in
            defer {
                s.running = false
                s.listener = -1
            }
            return (s.listener, s.running)
        }
        if wasRunning { _ = stopped.wait(timeout: .now() + 3) }
        if fd >= 0 { close(fd) }
        unlink(configFile.path)
    }

    private var running: Bool { state.withLock { $0.running } }

    private func acceptLoop(_ listener: Int32, identity: GuestIdentity) {
        while running {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 500) == 1 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let admitted = state.withLock { s -> Bool in
                guard s.connections < Self.maxConnections else { return false }
                s.connections += 1
                return true
            }
            guard admitted else {
                close(client)
                continue
            }
            Thread.detachNewThread { [self] in
                serve(client, identity: identity)
                state.withLock { $0.connections -= 1 }
            }
        }
    }

    /// approx on the connection (its stdin and stdout, as inetd gives it), then reaped.
    private func serve(_ client: Int32, identity: GuestIdentity) {
        let log = layout.logDir.appendingPathComponent("approx.log")
        let argv = ["/bin/sh", "-c", "exec /usr/sbin/approx -c \"$0\" <&3 >&3 3<&-", configFile.path]
        let pid = try? Spawn.detached(argv, log: log, inheritFD: client, environment: CleanEnvironment.make(), identity: identity)
        close(client)
        guard let pid else { return }
        let deadline = Date().addingTimeInterval(Self.connectionSeconds)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline { kill(pid, SIGKILL) }
            usleep(100_000)
        }
    }
}
