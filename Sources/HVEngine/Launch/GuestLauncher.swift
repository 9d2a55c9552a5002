import Foundation
import HVCore
import HVHost
import QMP

#if canImport(Glibc)
import Glibc
#endif

/// Starts one guest's QEMU: paused, in its own session, holding the guest's
/// lock; connects QMP, places the vCPU threads, then lets the guest run.
/// A start that fails at any step leaves no process and no sockets behind.
public enum GuestLauncher {
    public struct Launched: @unchecked Sendable {
        public var pid: pid_t
        public var qmp: QMPClient
        public var placement: Placement.Outcome
    }

    /// What a QEMU is started with and where its threads go.
    public struct Request {
        public var argv: [String]
        /// The RT cores of the guest's vCPUs (empty: the host's cores).
        public var reservedCores: [Int]
        public var hostCores: [Int]
        /// SCHED_FIFO priority of the vCPU threads (0: none), and of QEMU's main thread.
        public var rtPriority: Int
        public var emulatorPriority: Int
        /// The CPU partition whose RT cpuset the vCPU threads join.
        public var partition: CPUPartition?
        /// The guest's own user, and the limits its QEMU runs under.
        public var identity: GuestIdentity
        public var limits: ProcessLimits
        public init(
            argv: [String], reservedCores: [Int] = [], hostCores: [Int] = [], rtPriority: Int = 0, emulatorPriority: Int = 0,
            partition: CPUPartition? = nil, identity: GuestIdentity, limits: ProcessLimits = .init()
        ) {
            self.argv = argv
            self.reservedCores = reservedCores
            self.hostCores = hostCores
            self.rtPriority = rtPriority
            self.emulatorPriority = emulatorPriority
            self.partition = partition
            self.identity = identity
            self.limits = limits
        }
    }

    /// `alsoFDs`: descriptors QEMU inherits after the lock (4, 5, …).
    public static func launch(
        _ request: Request, folder: GuestFolder, alsoFDs: [Int32] = [],
        onEvent: @escaping @Sendable (QMPEvent) -> Void
    ) throws -> Launched {
        let (argv, identity) = (request.argv, request.identity)
        let (reservedCores, hostCores, partition) = (request.reservedCores, request.hostCores, request.partition)
        try prepareRunDirs(folder, identity: identity)
        for f in [folder.qmpSocket, folder.serialSocket, folder.vncSocket, folder.pidFile] { unlink(f.path) }
        guard let lockFD = try GuestLock.acquire(folder.lockFile) else {
            throw HVError(.conflict, "guest \(folder.name) is already running (its QEMU holds \(folder.lockFile.path))")
        }
        let pid: pid_t
        do {
            pid = try Spawn.detached(
                argv, log: folder.qemuLog, inheritFD: lockFD, alsoFDs: alsoFDs, environment: CleanEnvironment.make(CleanEnvironment.qemuExtra),
                identity: identity, limits: request.limits)
        } catch {
            close(lockFD)
            throw error
        }
        // QEMU holds the lock from here on; ours goes.
        close(lockFD)
        try? AtomicFile.write("\(pid)\n", to: folder.startingFile, mode: 0o600)
        do {
            let qmp = try connectQMP(folder: folder, pid: pid, onEvent: onEvent)
            let cpus = try qmp.execute("query-cpus-fast")
            let threads = (cpus.array ?? []).compactMap { $0["thread-id"]?.int }.map { pid_t($0) }
            // Into the RT cpuset first: a thread of the host cpuset may not run on an RT core.
            let admitted = reservedCores.isEmpty ? [] : partition?.admit(threads: threads) ?? []
            var placement = Placement.place(
                pid: pid, vcpuThreads: threads, reserved: reservedCores,
                hostCores: hostCores, priority: request.rtPriority,
                emulatorPriority: request.emulatorPriority)
            placement.notes = admitted + placement.notes
            try qmp.execute("cont")
            return Launched(pid: pid, qmp: qmp, placement: placement)
        } catch {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            for f in [folder.qmpSocket, folder.serialSocket, folder.vncSocket, folder.pidFile, folder.startingFile] { unlink(f.path) }
            throw error
        }
    }

    /// A start cut short (hvd killed between spawn and state.json) leaves a
    /// QEMU paused with -S that nobody would adopt: the next hvd ends it.
    /// Only a process that still holds the guest's lock and whose command
    /// line names this guest's QMP socket is killed (pids are reused).
    public static func endInterruptedStart(_ folder: GuestFolder) -> pid_t? {
        defer { unlink(folder.startingFile.path) }
        guard let text = try? String(contentsOf: folder.startingFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            GuestLock.isHeld(folder.lockFile)
        else { return nil }
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        guard String(decoding: cmdline, as: UTF8.self).contains(folder.qmpSocket.path) else { return nil }
        kill(pid, SIGKILL)
        return pid
    }

    /// run/<guest>/ is root's (hvd's records; the group hv-qemu may pass
    /// through), run/<guest>/qemu/ the guest user's (what QEMU creates), and
    /// the console log, which QEMU appends to, the guest user's alone.
    public static func prepareRunDirs(_ folder: GuestFolder, identity: GuestIdentity) throws {
        try identity.checkReachable(folder.runDir)
        try identity.checkReachable(folder.url)
        let fm = FileManager.default
        try fm.createDirectory(at: folder.runDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o710])
        try fm.createDirectory(at: folder.qemuDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard GuestIdentity.dropsPrivileges else { return }
        try HostPermissions.restrict(folder.runDir, group: identity.gid, mode: 0o710)
        try identity.own(folder.qemuDir, mode: 0o700)
        let fd = open(folder.consoleLog.path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HVError.posix("cannot create \(folder.consoleLog.path)", errno: errno) }
        close(fd)
        try identity.own(folder.consoleLog, mode: 0o600)
    }

    /// Waits for QEMU's QMP socket while QEMU is getting somewhere
    /// (StartupProgress): it may first pin gigabytes for an assigned device.
    static func connectQMP(folder: GuestFolder, pid: pid_t, onEvent: @escaping @Sendable (QMPEvent) -> Void) throws -> QMPClient {
        var progress = StartupProgress(pid: pid)
        while true {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw HVError(
                    .io, "QEMU exited at once: \(tail(of: folder.qemuLog))",
                    hint: "the whole output is in \(folder.qemuLog.path)")
            }
            if FileManager.default.fileExists(atPath: folder.qmpSocket.path),
                let qmp = try? QMPClient(path: folder.qmpSocket.path, timeout: 5, onEvent: onEvent)
            {
                return qmp
            }
            switch progress.sample() {
            case .waiting: break
            case .idle:
                throw HVError(
                    .timeout, "QEMU did not open its QMP socket and used no CPU for \(Int(StartupProgress.idleLimit)) s: it is stuck",
                    hint: "see \(folder.qemuLog.path)")
            case .tooLong:
                throw HVError(
                    .timeout, "QEMU did not open its QMP socket within \(Int(StartupProgress.hardLimit)) s",
                    hint: "see \(folder.qemuLog.path); a guest with an assigned device pins all its memory first")
            }
            usleep(5_000)
        }
    }

    public static func tail(of url: URL, bytes: Int = 600) -> String {
        guard let data = try? Data(contentsOf: url) else { return "(no output)" }
        let text = String(decoding: data.suffix(bytes), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(no output)" : text
    }
}
