import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// What a guest's QEMU may use of the host (0: as inherited).
public struct ProcessLimits: Sendable, Equatable {
    /// RLIMIT_MEMLOCK: the guest's RAM when it is locked, and a margin.
    public var lockedBytes: UInt64
    /// RLIMIT_AS: all it may map (the guest's memory limit).
    public var addressSpaceBytes: UInt64
    public init(lockedBytes: UInt64 = 0, addressSpaceBytes: UInt64 = 0) {
        self.lockedBytes = lockedBytes
        self.addressSpaceBytes = addressSpaceBytes
    }
}

/// Starting long-lived children (QEMU, hvd) with posix_spawn: in a session of
/// their own (so a signal to the caller's terminal or hvd's death does not
/// reach them), stdin from /dev/null, output appended to a log, and one
/// optional file descriptor (a held lock) passed as fd 3. Every other
/// descriptor of ours is close-on-exec.
public enum Spawn {
    public static func detached(
        _ argv: [String], log: URL, inheritFD: Int32? = nil, alsoFDs: [Int32] = [],
        environment: [String: String]? = nil, identity: GuestIdentity? = nil,
        limits: ProcessLimits = .init()
    ) throws -> pid_t {
        guard let exe = argv.first else { throw HVError(.internal, "empty command") }
        // Not through a link planted in the log's place.
        let logFD = open(log.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard logFD >= 0 else { throw HVError.posix("cannot open \(log.path)", errno: errno) }
        defer { close(logFD) }
        if let identity, GuestIdentity.dropsPrivileges {
            return try spawnAs(
                identity, argv, environment: environment ?? CleanEnvironment.make(), logFD: logFD,
                keepFDs: (inheritFD.map { [$0] } ?? []) + alsoFDs, limits: limits)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, logFD, 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        // The lock as fd 3, then the others in order (a TAP as 4).
        let kept = (inheritFD.map { [$0] } ?? []) + alsoFDs
        for (i, fd) in kept.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + i)) }
        // Nothing else of ours reaches the child: not hvd's sockets, and not a
        // descriptor our own parent left open (Foundation watches for its
        // children's exit through one, and would wait for a detached child forever).
        hv_spawn_closefrom(&actions, Int32(3 + kept.count))

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(hv_spawn_setsid_flag() | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in
                posix_spawnp(&pid, exe, &actions, &attr, cargv, cenv)
            }
        }
        guard rc == 0 else {
            throw HVError(
                rc == ENOENT ? .notFound : .io, "cannot start \(exe): \(String(cString: strerror(rc)))",
                hint: rc == ENOENT ? "install it (hv setup installs what hv needs)" : nil)
        }
        return pid
    }

    /// fork + drop to the guest's user + exec, in C (CHVSys.hv_spawn_as):
    /// posix_spawn cannot change the user.
    /// Output to `logFD` (stderr to `errorFD` when given).
    static func spawnAs(
        _ identity: GuestIdentity, _ argv: [String], environment: [String: String], logFD: Int32,
        errorFD: Int32? = nil, keepFDs: [Int32], limits: ProcessLimits
    ) throws -> pid_t {
        guard let first = argv.first, let exe = first.contains("/") ? first : Executables.find(first) else {
            throw HVError(.notFound, "cannot start \(argv.first ?? "?"): not installed", hint: "hv setup installs what hv needs")
        }
        let env = environment.map { "\($0.key)=\($0.value)" }
        let pid = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in
                identity.groups.withUnsafeBufferPointer { groups in
                    keepFDs.withUnsafeBufferPointer { keep in
                        hv_spawn_as(
                            exe, cargv, cenv, identity.uid, identity.gid, groups.baseAddress, Int32(groups.count),
                            logFD, errorFD ?? logFD, keep.baseAddress, Int32(keep.count), limits.lockedBytes, limits.addressSpaceBytes)
                    }
                }
            }
        }
        guard pid > 0 else {
            let err = -pid
            throw HVError(
                err == ENOENT ? .notFound : .io, "cannot start \(exe) as user \(identity.uid): \(String(cString: strerror(err)))",
                hint: err == EACCES ? "the guest's user may not run or reach it; see docs/SECURITY.md" : nil)
        }
        return pid
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        ptrs.append(nil)
        defer { for p in ptrs { free(p) } }
        return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// The environment hv gives QEMU, swtpm, scripts and hooks: fixed, never
/// whatever the shell that first started hvd had (no LD_PRELOAD, BASH_ENV,
/// IFS or PATH of someone else's choosing), plus what hv itself sets.
public enum CleanEnvironment {
    public static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    /// QEMU's own: glibc's malloc makes up to 8 arenas a core, 64 MiB of
    /// address space each, which on a big host would eat the address-space
    /// limit (ProcessLimits) with nothing in it; four are plenty for QEMU.
    public static let qemuExtra = ["MALLOC_ARENA_MAX": "4"]

    public static func make(_ extra: [String: String] = [:], root: URL? = nil) -> [String: String] {
        var env = [
            "PATH": path, "LANG": "C.UTF-8", "HOME": geteuid() == 0 ? "/root" : (ProcessInfo.processInfo.environment["HOME"] ?? "/"),
            "TERM": "dumb",
        ]
        if let root { env["HV_ROOT"] = root.path }
        for (k, v) in extra where !k.hasPrefix("LD_") && k != "BASH_ENV" && k != "ENV" && k != "IFS" && k != "PATH" { env[k] = v }
        return env
    }
}

/// Short helper commands (qemu-img, apt-get, hooks): run to completion with
/// a deadline, output captured.
public enum Command {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var timedOut: Bool
    }

    @discardableResult
    public static func run(
        _ argv: [String], timeout: Double = 60, cwd: URL? = nil,
        environment: [String: String]? = nil, stdoutTo: URL? = nil,
        passThrough: Bool = false
    ) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        if let cwd { p.currentDirectoryURL = cwd }
        if let environment { p.environment = environment }
        let outPipe = Pipe(), errPipe = Pipe()
        var outFile: FileHandle?
        if let stdoutTo {
            _ = FileManager.default.createFile(atPath: stdoutTo.path, contents: nil)
            outFile = try FileHandle(forWritingTo: stdoutTo)
            p.standardOutput = outFile
        } else if passThrough {
            p.standardOutput = FileHandle.standardError
        } else {
            p.standardOutput = outPipe
        }
        p.standardError = passThrough ? FileHandle.standardError : errPipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw HVError(.notFound, "cannot run \(argv.first ?? "?"): \(error.localizedDescription)")
        }
        // Drain both pipes on their own threads so a chatty child never blocks.
        let outBox = DataBox(), errBox = DataBox()
        let group = DispatchGroup()
        if stdoutTo == nil && !passThrough {
            group.enter()
            Thread.detachNewThread {
                outBox.data = outPipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        if !passThrough {
            group.enter()
            Thread.detachNewThread {
                errBox.data = errPipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(p.processIdentifier, SIGKILL)
                break
            }
            usleep(5_000)
        }
        p.waitUntilExit()
        _ = group.wait(timeout: .now() + 5)
        try? outFile?.close()
        return Output(
            status: p.terminationStatus,
            stdout: String(decoding: outBox.data, as: UTF8.self),
            stderr: String(decoding: errBox.data, as: UTF8.self),
            timedOut: timedOut)
    }

    /// Runs and throws when the command fails, with its error output.
    @discardableResult
    public static func check(
        _ argv: [String], timeout: Double = 300, cwd: URL? = nil, what: String? = nil,
        passThrough: Bool = false
    ) throws -> String {
        let out = try run(argv, timeout: timeout, cwd: cwd, passThrough: passThrough)
        guard out.status == 0, !out.timedOut else {
            let detail =
                out.timedOut
                ? "did not finish within \(Int(timeout)) s"
                : "failed (exit \(out.status)): " + out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(800)
            throw HVError(.io, "\(what ?? argv.joined(separator: " ")) \(detail)")
        }
        return out.stdout
    }
}

final class DataBox: @unchecked Sendable { var data = Data() }
