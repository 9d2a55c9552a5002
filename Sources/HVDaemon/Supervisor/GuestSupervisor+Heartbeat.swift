import Foundation
import HVCore
import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// RT-Linux's heartbeat: the guest's init writes exchange/.hv-heartbeat every
/// second (a shell loop at normal priority, so a real-time task that starves
/// the guest stops it too). hvd only reads the file's modification time, with
/// lstat (nothing the guest writes is parsed). A beat older than
/// HeartbeatTimeoutSeconds, counted from the end of the boot, is reported
/// once per outage; with Watchdog=reset the guest is reset and watched booting again.
extension GuestSupervisor {
    static let heartbeatFile = ".hv-heartbeat"

    func startHeartbeatWatch(generation gen: Int, config: GuestConfig) {
        let file = folder.exchangeDir.appendingPathComponent(Self.heartbeatFile).path
        let timeout = Double(config.heartbeatTimeoutSeconds)
        let action = config.watchdog
        let t = Thread { [self] in
            var reported = false
            var graceFrom = Date()
            while true {
                sleep(1)
                let (current, booted, q, paused) = shared.withLock { s in
                    (gen == s.generation && s.state == .running, s.record?.bootedAt, s.qmp, s.paused != nil)
                }
                guard current else { return }
                // A guest QEMU paused (a full disk) beats no heart: the silence counts from its resume.
                if paused {
                    graceFrom = Date()
                    reported = false
                    continue
                }
                // Counted from the end of the boot (or hv's last reset), never before.
                guard let booted else {
                    reported = false
                    continue
                }
                let since = max(booted, graceFrom)
                let beat = Self.modificationTime(file).map { max($0, since) } ?? since
                let silent = -beat.timeIntervalSinceNow
                if silent <= timeout {
                    reported = false
                    continue
                }
                if reported { continue }
                reported = true
                let what = "no heartbeat for \(Int(silent)) s (HeartbeatTimeoutSeconds=\(Int(timeout)); \(file))"
                guard action == .reset, let q else {
                    ctx.events.post(.heartbeatMissed, guest: folder.name, what)
                    continue
                }
                ctx.events.post(.heartbeatMissed, guest: folder.name, what + "; resetting the guest")
                let offset = FileSize.of(folder.consoleLog)
                guard (try? q.execute("system_reset")) != nil else { continue }
                shared.withLock { s in
                    guard var rec = s.record else { return }
                    rec.bootLogOffset = offset
                    rec.bootStartedAt = Date()
                    rec.bootedAt = nil
                    rec.notes.append("reset at \(Timestamp.iso8601()): \(what)")
                    s.record = rec
                    saveRecord(rec)
                }
                graceFrom = Date()
                reported = false
                startBootWatcher()
            }
        }
        t.name = "heartbeat-\(folder.name)"
        t.start()
    }

    /// The file's mtime without following a link the guest may have put there.
    static func modificationTime(_ path: String) -> Date? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }
}
