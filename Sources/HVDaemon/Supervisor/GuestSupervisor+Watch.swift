import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import QMP

#if canImport(Glibc)
import Glibc
#endif

/// The threads that watch a running guest: one waits for its QEMU to exit
/// (the guest lock is released), one follows the boot on the console log.
extension GuestSupervisor {
    /// `lost`: an adopted record's pid is no longer its QEMU (gone, or another process's now).
    func startMonitor(generation gen: Int, pid: Int32, isChild: Bool, process: ProcessHandle?, lost: Bool = false) {
        let t = Thread { [self] in
            let fault = lost ? "QEMU (pid \(pid)) is gone" : watchProcess(pid: pid, isChild: isChild, process: process)
            let holders = releaseLockHolders()
            guestExited(generation: gen, fault: holders.map { (fault.map { $0 + "; " } ?? "") + $0 } ?? fault)
        }
        t.name = "monitor-\(folder.name)"
        t.start()
    }

    /// Until QEMU is gone and its lock free. The process is watched by its
    /// pidfd, the lock beside it: a lock let go while the process lives (a
    /// QEMU a guest broke out of, faking its exit) is a fault, so the process
    /// is killed before anything it holds (devices, cores, the disk) goes to
    /// another start; a lock still held after the process ended is held by
    /// something it passed it to, which is killed too. The fault, or nil.
    private func watchProcess(pid: Int32, isChild: Bool, process: ProcessHandle?) -> String? {
        guard let process else {
            // No pidfd (a kernel before 5.3): the lock alone says when it ends.
            GuestLock.waitUntilReleased(folder.lockFile)
            if isChild {
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
            }
            return nil
        }
        var fault: String?
        while !process.waitExit(timeout: 0.5) {
            // An exiting process lets go of its files a moment before it is gone
            // (longer on a loaded host): the kernel marks it exiting first.
            guard !GuestLock.isHeld(folder.lockFile), !process.waitExit(timeout: 1) else { continue }
            if process.isExiting {
                _ = process.waitExit(timeout: 30)
                continue
            }
            fault = "QEMU (pid \(pid)) let go of its lock while it ran on: killed"
            process.kill()
            _ = process.waitExit(timeout: 10)
            break
        }
        if isChild {
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        return fault
    }

    /// A lock still held once QEMU is gone is held by what it passed it to:
    /// those processes are killed. What was done, or nil.
    private func releaseLockHolders() -> String? {
        guard GuestLock.isHeld(folder.lockFile) else { return nil }
        // Only processes of guest users (QEMU's): never hvd itself, nor root's CLI looking at the lock.
        let holders = GuestLock.holders(folder.lockFile).filter { pid in
            var st = stat()
            return pid != getpid() && stat("/proc/\(pid)", &st) == 0 && (!GuestIdentity.dropsPrivileges || GuestIdentity.isGuestUser(st.st_uid))
        }
        for h in holders { ProcessHandle.open(pid: h)?.kill() }
        for _ in 0..<20 where GuestLock.isHeld(folder.lockFile) { usleep(250_000) }
        return "its lock was still held (by pid \(holders.map(String.init).joined(separator: ", "))): killed"
    }

    private func guestExited(generation gen: Int, fault: String? = nil) {
        let ending: (StopReason, RunRecord?)? = shared.withLock { s in
            guard gen == s.generation else { return nil }
            s.qmp?.close()
            s.qmp = nil
            if fault != nil { return (.crashed, s.record) }
            return (s.stopReason ?? (s.guestPoweredOff ? .guestPoweroff : .crashed), s.record)
        }
        guard let (reason, rec) = ending else { return }
        for f in [folder.qmpSocket, folder.serialSocket, folder.pidFile] { unlink(f.path) }
        releaseHostResources(rec)
        ctx.log.info("\(folder.name): QEMU exited (\(reason.rawValue))")
        ShutdownHook.run(
            folder: folder, name: rec?.name ?? folder.name, reason: reason,
            extraEnv: rec?.hookEnvironment ?? [:], log: ctx.log)
        // Removed only after the hook ran: a new hvd runs a hook that did not.
        try? FileManager.default.removeItem(at: folder.stateFile)
        shared.withLock { s in
            s.state = reason == .crashed ? .crashed : .stopped
            s.lastStop = "\(reason.rawValue) at \(Timestamp.iso8601())"
            s.record = nil
            s.stopReason = nil
            s.guestPoweredOff = false
        }
        if let fault {
            ctx.events.post(.crashed, guest: folder.name, fault)
            recoverFromCrash()
        } else if reason == .crashed {
            ctx.events.post(.crashed, guest: folder.name, "QEMU (pid \(rec?.pid ?? 0)) ended without being asked; see \(folder.qemuLog.path)")
            recoverFromCrash()
        } else {
            ctx.events.post(.stopped, guest: folder.name, reason.rawValue)
        }
    }

    /// OnCrash=restart: starts the guest again unless it used up its restarts
    /// within the interval (then it stays crashed, said once in the log and events).
    private func recoverFromCrash() {
        let policy = (try? GuestConfig.load(from: folder))?.onCrash ?? .never
        guard policy.action == .restart else { return }
        let now = Date()
        let (allowed, count) = shared.withLock { s in
            let allowed = policy.allowsRestart(now: now, after: s.crashRestarts)
            if allowed { s.crashRestarts = (s.crashRestarts + [now]).suffix(policy.burst + 1) }
            return (allowed, s.crashRestarts.filter { now.timeIntervalSince($0) < Double(policy.intervalSeconds) }.count)
        }
        guard allowed else {
            ctx.events.post(
                .restartLimit, guest: folder.name,
                "crashed \(policy.burst + 1) times within \(policy.intervalSeconds) s (RestartLimitBurst=\(policy.burst)): it stays crashed until it is started by hand"
            )
            return
        }
        ctx.events.post(.restarting, guest: folder.name, "OnCrash=restart: restart \(count) of at most \(policy.burst) within \(policy.intervalSeconds) s")
        Thread.detachNewThread { [self] in
            // A moment for the exit's own clean-up (sockets, the exchange mount) to settle.
            usleep(500_000)
            do { _ = try start(wait: false, timeout: 0) } catch {
                ctx.events.post(.crashed, guest: folder.name, "the restart after a crash failed: \((error as? HVError)?.message ?? "\(error)")")
            }
        }
    }

    /// Follows console.log from the start of the current boot: the ready line
    /// ends the boot; a boot that prints nothing for BootStallSeconds is reset
    /// once, and reported as stalled if it stalls again.
    func startBootWatcher() {
        let watched: (Int, RunRecord, String)? = shared.withLock { s in
            s.bootGeneration += 1
            guard let rec = s.record, let marker = rec.readyMarker, rec.bootedAt == nil else { return nil }
            return (s.bootGeneration, rec, marker)
        }
        guard let (gen, rec, marker) = watched else { return }
        let t = Thread { [self] in
            var offset = rec.bootLogOffset
            var lastProgress = Date()
            var tail = ""
            var retried = false
            let stall = Double(rec.bootStallSeconds)
            while true {
                usleep(50_000)
                let current = shared.withLock { s in gen == s.bootGeneration && (s.state == .running || s.state == .starting) }
                guard current else { return }
                let size = FileSize.of(folder.consoleLog)
                if size < offset { offset = 0 }  // rotated
                if size > offset {
                    let data = FileSize.read(folder.consoleLog, from: offset)
                    offset += UInt64(data.count)
                    tail = String((tail + String(decoding: data, as: UTF8.self)).suffix(8192))
                    lastProgress = Date()
                    if tail.contains(marker) {
                        booted(generation: gen)
                        return
                    }
                }
                guard -lastProgress.timeIntervalSinceNow > stall else { continue }
                let lastLine = tail.split(whereSeparator: \.isNewline).last.map(String.init) ?? "(nothing printed)"
                let what = "the boot of \(folder.name) printed nothing for \(Int(stall)) s (last line: \(lastLine))"
                if !retried {
                    retried = true
                    ctx.log.info("\(what); resetting it once")
                    let q = shared.withLock { s in
                        s.record?.notes.append("\(what); hv reset it once")
                        s.record?.bootStartedAt = Date()
                        return s.qmp
                    }
                    offset = FileSize.of(folder.consoleLog)
                    tail = ""
                    _ = try? q?.execute("system_reset")
                    lastProgress = Date()
                } else {
                    ctx.events.post(.stalled, guest: folder.name, "\(what) again after a reset")
                    shared.withLock { s in
                        s.state = .stalled
                        s.stallMessage = "\(what), again after hv reset it once"
                        s.record?.notes.append(s.stallMessage ?? "")
                    }
                    return
                }
            }
        }
        t.name = "boot-\(folder.name)"
        t.start()
    }

    private func booted(generation gen: Int) {
        let done: RunRecord? = shared.withLock { s in
            guard gen == s.bootGeneration, var rec = s.record else { return nil }
            rec.bootedAt = Date()
            s.record = rec
            // Saved under the lock: a reset meanwhile must not be overwritten by this older boot.
            saveRecord(rec)
            return rec
        }
        guard let rec = done else { return }
        let seconds = String(format: "%.2f", (rec.bootedAt ?? Date()).timeIntervalSince(rec.bootStartedAt))
        ctx.events.post(.booted, guest: folder.name, "in \(seconds) s")
    }

    /// Takes over a guest that a previous hvd started, or runs the hook of
    /// one that stopped while no hvd was watching.
    func adopt(_ rec: RunRecord) {
        guard GuestLock.isHeld(folder.lockFile) else {
            ctx.log.info("\(folder.name): stopped while hvd was not running")
            releaseHostResources(rec)
            ShutdownHook.run(folder: folder, name: rec.name, reason: .lost, extraEnv: rec.hookEnvironment, log: ctx.log)
            try? FileManager.default.removeItem(at: folder.stateFile)
            for f in [folder.qmpSocket, folder.serialSocket, folder.pidFile] { unlink(f.path) }
            shared.withLock { $0.lastStop = "stopped while hvd was not running" }
            return
        }
        let gen = shared.withLock { s in
            s.generation += 1
            s.interruptThreads = [:]
            s.paused = nil
            s.record = rec
            s.state = .running
            return s.generation
        }
        let q = try? QMPClient(
            path: folder.qmpSocket.path, timeout: 5,
            onEvent: { [weak self] in self?.handle($0, generation: gen) })
        shared.withLock { s in
            s.qmp = q
            if q == nil { s.record?.notes.append("re-adopted without QMP (its socket did not answer)") }
        }
        // The pid must still be the QEMU the record names (its start time), else the pid was reused.
        let process = ProcessHandle.open(pid: rec.pid, startTime: rec.processStart)
        // No pidfd at all (an old kernel) is not a lost process: the lock alone is watched then.
        let lost = process == nil && ProcessHandle.supported
        ctx.events.post(.adopted, guest: folder.name, "running guest pid \(rec.pid), started by an earlier hvd")
        checkPausedAtAdoption(generation: gen)
        noteOlderNetwork(pid: rec.pid)
        startMonitor(generation: gen, pid: rec.pid, isChild: false, process: process, lost: lost)
        startBootWatcher()
        startDeviceInterruptWatch(generation: gen, rec: rec)
        if let config = try? GuestConfig.load(from: folder), config.kind == .rtos, config.watchdog != .off {
            startHeartbeatWatch(generation: gen, config: config)
        }
    }

    func rotateConsoleLog() {
        if let cap = shared.withLock({ $0.record?.consoleLogMaxBytes }) { ConsoleLog.rotateIfNeeded(folder, maxBytes: cap) }
    }

    /// The state alone, without reading any file (for filters over all guests).
    var currentState: GuestState { shared.withLock { $0.state } }

    /// `comm`: the communication subsystem to take the guest's address from,
    /// when the caller read it once for many guests.
    func status(comm given: CommunicationConfig? = nil) -> GuestStatus {
        let config = try? configCache.get([folder.guestConfig, folder.userConfig]) { try GuestConfig.load(from: folder) }
        let comm = given ?? ctx.communication()
        let address = comm?.member(folder.name)?.address.description
        let (state, record, consoleHolder, lastStop, paused) = shared.withLock { ($0.state, $0.record, $0.consoleHolder, $0.lastStop, $0.paused) }
        let qualification = shared.withLock { $0.qualification }.map { QualificationProgress($0.status) }
        let os = record?.os ?? config?.os
        var s = GuestStatus(
            name: record?.name ?? config?.name ?? folder.name, folder: folder.name,
            kind: os?.kind.rawValue ?? "unknown", os: os?.rawValue ?? "unknown", state: state,
            vcpus: record?.vcpus ?? config?.vcpus ?? 0, memoryMiB: record?.memoryMiB ?? config?.memoryMiB ?? 0)
        if let r = record {
            s.pid = Int(r.pid)
            s.cores = r.placement.cores
            s.schedFIFO = r.placement.schedFIFO
            s.accelerator = r.accelerator.rawValue
            s.acceleratorReason = r.acceleratorReason
            s.startedAt = Timestamp.iso8601(r.startedAt)
            s.booted = r.bootedAt != nil
            s.bootSeconds = r.bootedAt.map { $0.timeIntervalSince(r.bootStartedAt) }
            s.notes = r.notes
            s.display = r.display
            s.diskImage = r.diskImage
            s.installing = r.installing ?? false
            s.vcpuPlacement = r.placement.vcpuThreads.compactMap { Placement.observe(pid_t($0)) }
            s.emulatorPlacement = Placement.observe(r.pid)
            s.devices = observeDevices(r)
        } else if os?.kind == .rtos {
            s.cores = ctx.vmf.current?.reservedCores[folder.name] ?? []
        }
        if config == nil && record == nil { s.notes.append("guest.config is missing or does not validate") }
        s.address = address
        if os == .rtLinux, let config { s.root = config.root.rawValue }
        if state.isActive { s.clock = ctx.vmf.comm?.clock?.reading(folder.name) }
        s.consoleHolder = consoleHolder
        s.lastStop = lastStop
        s.paused = paused
        s.qualification = qualification
        return s
    }
}

enum ConsoleLog {
    /// Keeps console.log under its cap: the old content moves to console.log.1.
    static func rotateIfNeeded(_ folder: GuestFolder, maxBytes: UInt64) {
        LogRotation.rotateIfNeeded(folder.consoleLog, to: folder.consoleLogPrevious, maxBytes: maxBytes)
    }
}

enum LogRotation {
    /// Past `maxBytes`, the content moves to `previous` (mode 0600: a
    /// guest's output is nobody else's) and the log starts again. Its
    /// writers append (O_APPEND), so truncating in place is safe; the log is
    /// opened without following links, and read again until it stops
    /// growing, so what a writer added meanwhile is moved too.
    static func rotateIfNeeded(_ log: URL, to previous: URL, maxBytes: UInt64) {
        guard FileSize.of(log) > maxBytes else { return }
        let fd = open(log.path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var data = Data()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { data.append(chunk) }
        guard (try? AtomicFile.write(data, to: previous, mode: 0o600)) != nil else { return }
        // What the writer added while the copy was written goes along too (one more write, if any).
        let before = data.count
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { data.append(chunk) }
        if data.count > before { try? AtomicFile.write(data, to: previous, mode: 0o600) }
        ftruncate(fd, 0)
    }
}
