import CHVSys
import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

extension Spawn {
    /// Output kept of a short command run as a guest's user; more is cut.
    public static let outputCap = 1 << 20

    /// A short command (qemu-img on a guest's own disk) as the guest's user,
    /// with `keepFDs` as its descriptors 3, 4, …, run to completion within
    /// `timeout` (then killed), its output captured (each stream up to 1 MiB).
    /// Where hvd is not root (development) it runs as hvd's own user.
    public static func runAs(_ identity: GuestIdentity, _ argv: [String], keepFDs: [Int32], timeout: Double) throws -> Command.Output {
        let outPipe = try closeOnExecPipe()
        let errPipe: [Int32]
        do { errPipe = try closeOnExecPipe() } catch {
            close(outPipe[0])
            close(outPipe[1])
            throw error
        }
        // uid 0 is "stay as we are" to hv_spawn_as (development, where hvd is not root).
        let who = GuestIdentity.dropsPrivileges ? identity : GuestIdentity(uid: 0, gid: 0, groups: [])
        let pid: pid_t
        do {
            pid = try spawnAs(
                who, argv, environment: CleanEnvironment.make(), logFD: outPipe[1], errorFD: errPipe[1],
                keepFDs: keepFDs, limits: ProcessLimits())
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        var out = Data(), err = Data()
        let deadline = Date().addingTimeInterval(timeout)
        var open = [outPipe[0], errPipe[0]]
        var timedOut = false
        while !open.isEmpty {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 {
                timedOut = true
                kill(pid, SIGKILL)
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000))
            if n < 0 && errno != EINTR { break }
            for p in fds where p.revents != 0 {
                var buf = [UInt8](repeating: 0, count: 65536)
                let got = read(p.fd, &buf, buf.count)
                if got <= 0 {
                    open.removeAll { $0 == p.fd }
                    continue
                }
                if p.fd == outPipe[0] {
                    if out.count < outputCap { out.append(contentsOf: buf[0..<min(got, outputCap - out.count)]) }
                } else if err.count < outputCap {
                    err.append(contentsOf: buf[0..<min(got, outputCap - err.count)])
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Command.Output(
            status: code, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut)
    }

    /// A pipe neither of whose ends reaches another child (hv_spawn_as dups what it passes).
    static func closeOnExecPipe() throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw HVError.posix("pipe", errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fds
    }
}
