import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import QMP

#if canImport(Glibc)
import Glibc
#endif

/// The one owner of one guest inside hvd: its state, its QEMU, its console
/// and its stop ladder. Operations (start, stop, restart) run one at a time.
final class GuestSupervisor: Sendable {
    let folder: GuestFolder
    let ctx: DaemonContext
    /// Everything that changes while the guest runs; reached only under its lock.
    let shared = Monitor(SupervisedGuest())
    /// guest.config + usr.config as last parsed (status is asked for often).
    let configCache = ConfigCache<GuestConfig>()
    /// Turns a start's configuration into what to launch; nil: QEMU, as
    /// prepareRTOS / prepareKVM decide. Component tests launch a stand-in.
    let launchSpec: (@Sendable (GuestSupervisor, GuestConfig, GuestScriptVariables) throws -> LaunchSpec)?

    init(
        folder: GuestFolder, ctx: DaemonContext,
        launchSpec: (@Sendable (GuestSupervisor, GuestConfig, GuestScriptVariables) throws -> LaunchSpec)? = nil
    ) {
        self.folder = folder
        self.ctx = ctx
        self.launchSpec = launchSpec
    }

    // MARK: operations

    func start(wait: Bool, timeout: Double, placed: Bool = true) throws -> ActionResult {
        try beginOperation(allowed: [.stopped, .crashed], verb: "start")
        var operating = true
        defer { if operating { endOperation() } }
        try checkNoRevertCutShort()
        try checkRoomToStart()
        var config = try GuestConfig.load(from: folder)
        if !placed {
            config.rtPriority = 0
            config.lockMemory = "no"
        }
        try checkHostMemory(config)
        let vars = try GuestScriptVariables.read(folder)
        var spec =
            try launchSpec?(self, config, vars)
            ?? (config.kind == .rtos ? try prepareRTOS(config, placed: placed, vars: vars) : try prepareKVM(config, vars: vars))
        if config.shareGuestsFolder, let note = ExchangeFolder.provide(folder, identity: spec.identity, sizeMiB: config.exchangeMiB) {
            spec.notes.append(note)
        }
        let cap = UInt64(config.consoleLogMaxKiB) * 1024
        ConsoleLog.rotateIfNeeded(folder, maxBytes: cap)
        spec.memoryMiB = config.memoryMiB
        if let problem = HostMemory.lockLimitProblem(bytes: spec.memlockBytes) {
            throw HVError(
                .unsupported,
                "\(config.name) locks its memory (\(config.pciDevices.isEmpty ? "\"Lock\"" : "VFIO pins it for its PCI devices")), but \(problem)",
                hint: config.pciDevices.isEmpty
                    ? "set \"Lock\"=\"no\" in [Guest\\Memory] of usr.config, or run hvd where it may raise the limit; nothing was started"
                    : "run hvd where it may raise the limit (not in a container without CAP_SYS_RESOURCE); nothing was started")
        }
        let offset = FileSize.of(folder.consoleLog)
        let gen = shared.withLock { s in
            s.state = .starting
            s.generation += 1
            s.interruptThreads = [:]
            s.guestPoweredOff = false
            s.stopReason = nil
            s.stallMessage = nil
            s.paused = nil
            return s.generation
        }
        let launched: GuestLauncher.Launched
        var passed: [Int32] = []
        // QEMU holds its own copies; hvd's go either way.
        defer { passed.forEach { close($0) } }
        do {
            passed = try spec.beforeLaunch()
            launched = try GuestLauncher.launch(
                spec.request, folder: folder, alsoFDs: passed,
                onEvent: { [weak self] in self?.handle($0, generation: gen) })
        } catch {
            spec.undo()
            shared.withLock { $0.state = .stopped }
            throw error
        }
        let now = Date()
        var rec = RunRecord(
            pid: launched.pid, name: config.name, os: config.os, vcpus: config.vcpus,
            memoryMiB: config.memoryMiB, startedAt: now, accelerator: spec.accelerator,
            acceleratorReason: spec.acceleratorReason, placement: launched.placement, bootLogOffset: offset,
            bootStartedAt: now, bootedAt: nil, readyMarker: spec.readyMarker,
            bootStallSeconds: config.bootStallSeconds, stopTimeoutSeconds: config.stopTimeoutSeconds,
            consoleLogMaxBytes: cap, hookEnvironment: vars.hookEnvironment,
            notes: spec.notes + launched.placement.notes)
        rec.display = spec.display
        rec.diskImage = spec.diskImage
        rec.installing = spec.installing
        rec.tap = spec.tap
        rec.devices = spec.devices.isEmpty ? nil : spec.devices
        rec.usbDevices = config.usbDevices.isEmpty ? nil : config.usbDevices.map(\.description)
        rec.irqPriority = spec.irqPriority
        let process = ProcessHandle.open(pid: launched.pid)
        rec.processStart = ProcessHandle.startTime(of: launched.pid)
        saveRecord(rec)
        unlink(folder.startingFile.path)
        shared.withLock { s in
            s.record = rec
            s.qmp = launched.qmp
            s.state = .running
        }
        ctx.events.post(.started, guest: folder.name, "pid \(launched.pid) (\(spec.acceleratorReason)), cores \(launched.placement.cores)")
        startMonitor(generation: gen, pid: launched.pid, isChild: true, process: process)
        startDeviceInterruptWatch(generation: gen, rec: rec)
        if config.kind == .rtos && config.watchdog != .off { startHeartbeatWatch(generation: gen, config: config) }
        // Waiting for the boot is no operation: a stop may come meanwhile.
        endOperation()
        operating = false
        let steps = spec.steps.map { "\n  \($0)" }.joined()
        return try watchBoot(
            wait: wait && spec.readyMarker != nil, timeout: timeout,
            running: "\(config.name) started (pid \(launched.pid), \(spec.acceleratorReason))" + steps,
            booted: { "\(config.name) is up in \($0) s (pid \(launched.pid), \(spec.acceleratorReason))" + steps })
    }

    func stop(force: Bool, reason: StopReason = .requested) throws -> ActionResult {
        // A start still launching (QMP, placement) finishes first: a stop is
        // never refused as "busy", it waits its turn (the launch has deadlines of its own).
        let claimed = try shared.wait(until: Date().addingTimeInterval(60), for: { !$0.busy }) { s -> Bool in
            guard s.state.isActive else { return false }
            try claimOperation(&s, allowed: [.running, .stalled, .starting], verb: "stop")
            return true
        }
        guard claimed else {
            return ActionResult(message: "\(displayName) is not running (nothing to stop)", guest: status())
        }
        defer { endOperation() }
        let (q, pid, timeout, canShutDown) = shared.withLock { s in
            s.stopReason = reason
            s.state = .stopping
            // A guest still booting has no shutdown handler yet: asking it would only wait out the timeout.
            return (
                s.qmp, s.record?.pid ?? 0, Double(s.record?.stopTimeoutSeconds ?? 10),
                s.record.map { $0.readyMarker == nil || $0.bootedAt != nil } ?? false
            )
        }
        let t0 = Date()
        if !force && canShutDown {
            _ = try? q?.execute("system_powerdown", timeout: 5)
            if waitStopped(timeout) {
                return ActionResult(message: "\(displayName) stopped gracefully in \(String(format: "%.1f", -t0.timeIntervalSinceNow)) s", guest: status())
            }
            ctx.log.info("\(folder.name): no graceful stop within \(Int(timeout)) s; forcing")
        }
        shared.withLock { $0.stopReason = force || !canShutDown ? reason : .forced }
        _ = try? q?.execute("quit", timeout: 3)
        if waitStopped(5) { return forcedResult(force: force, timeout: timeout, canShutDown: canShutDown) }
        for sig in [SIGTERM, SIGKILL] where pid > 0 && GuestLock.isHeld(folder.lockFile) {
            kill(pid, sig)
            if waitStopped(5) { return forcedResult(force: force, timeout: timeout, canShutDown: canShutDown) }
        }
        throw HVError(
            .timeout, "\(displayName) (pid \(pid)) did not stop, even after SIGKILL",
            hint: "check the process with: ps -o pid,stat,cmd -p \(pid)")
    }

    private func forcedResult(force: Bool, timeout: Double, canShutDown: Bool) -> ActionResult {
        let message =
            force
            ? "\(displayName) stopped (forced, as asked)"
            : !canShutDown
                ? "\(displayName) was still booting and was stopped at once"
                : "\(displayName) did not shut down within \(Int(timeout)) s and was stopped by force"
        return ActionResult(message: message, guest: status())
    }

    func restart(wait: Bool, timeout: Double) throws -> ActionResult {
        if let config = try? GuestConfig.load(from: folder), config.kind == .kvm {
            throw HVError(
                .unsupported, "\(config.name) is a KVM guest: hv_guest_restart is only supported for RTOS guests",
                hint: "restart it from inside the guest, or stop and start it: hv_guest_stop, then hv_guest_start")
        }
        try beginOperation(allowed: [.running, .stalled], verb: "restart")
        var operating = true
        defer { if operating { endOperation() } }
        guard let (q, found) = shared.withLock({ s in s.qmp.flatMap { q in s.record.map { (q, $0) } } }) else {
            throw HVError(.internal, "running guest without QMP")
        }
        var rec = found
        let offset = FileSize.of(folder.consoleLog)
        try q.execute("system_reset")
        rec.bootLogOffset = offset
        rec.bootStartedAt = Date()
        rec.bootedAt = nil
        saveRecord(rec)
        shared.withLock { s in
            s.record = rec
            s.state = .running
            s.stallMessage = nil
        }
        endOperation()
        operating = false
        return try watchBoot(
            wait: wait && rec.readyMarker != nil, timeout: timeout,
            running: "\(rec.name) is rebooting (same configuration)",
            booted: { "\(rec.name) rebooted in \($0) s (same configuration)" })
    }

    /// Starts following the boot; with `wait`, answers once the guest is up.
    private func watchBoot(
        wait: Bool, timeout: Double, running: String,
        booted: (String) -> String
    ) throws -> ActionResult {
        startBootWatcher()
        guard wait else { return ActionResult(message: running, guest: status()) }
        let seconds = try waitForBoot(timeout: timeout)
        return ActionResult(message: booted(String(format: "%.1f", seconds)), guest: status())
    }

    // MARK: helpers

    var displayName: String {
        shared.withLock { $0.record?.name } ?? (try? GuestConfig.load(from: folder).name) ?? folder.name
    }

    private func beginOperation(allowed: [GuestState], verb: String) throws {
        try shared.withLock { s in try claimOperation(&s, allowed: allowed, verb: verb) }
    }

    private func claimOperation(_ s: inout SupervisedGuest, allowed: [GuestState], verb: String) throws {
        if s.busy {
            throw busy(s.state)
        }
        guard allowed.contains(s.state) else {
            let pid = s.record.map { " (pid \($0.pid))" } ?? ""
            switch (verb, s.state) {
            case ("start", _):
                throw HVError(
                    .conflict, "guest \(folder.name) is already running\(pid)",
                    hint: "open its console with hv_guest_console, or stop it with hv_guest_stop")
            case ("restart", .stopped), ("restart", .crashed):
                throw HVError(
                    .conflict, "guest \(folder.name) is not running, so it cannot be restarted",
                    hint: "start it with hv_guest_start")
            default:
                throw HVError(.conflict, "guest \(folder.name) is \(s.state.rawValue); cannot \(verb) it now")
            }
        }
        if verb == "start" && GuestLock.isHeld(folder.lockFile) {
            throw HVError(.conflict, "guest \(folder.name) is already running (a QEMU holds \(folder.lockFile.path))")
        }
        s.busy = true
    }

    private func endOperation() { shared.withLock { $0.busy = false } }

    /// The refusals of a claim, spelled once.
    func busy(_ state: GuestState) -> HVError {
        HVError(.conflict, "guest \(folder.name) is busy (\(state.rawValue)); try again in a moment")
    }
    var unsupervisedQEMU: HVError {
        HVError(
            .conflict, "guest \(folder.name) is held by a QEMU (\(folder.lockFile.path)) that this hvd does not supervise",
            hint: "stop that QEMU first; nothing was changed")
    }

    /// Runs `body` as the guest's one operation while it is stopped and no
    /// QEMU holds its lock: no start can begin until `body` is done. For what
    /// moves or deletes the guest's folder (a check then a move would let a
    /// start in between).
    func whileStopped<T>(_ verb: String, _ body: () throws -> T) throws -> T {
        try shared.withLock { s in
            if s.busy { throw busy(s.state) }
            guard s.state == .stopped || s.state == .crashed else {
                let pid = s.record.map { " (pid \($0.pid))" } ?? ""
                throw HVError(
                    .conflict, "guest \(folder.name) is \(s.state.rawValue)\(pid); a running guest's folder is never \(verb)",
                    hint: "stop it first: hv guest stop \(folder.name)")
            }
            if GuestLock.isHeld(folder.lockFile) { throw unsupervisedQEMU }
            s.busy = true
        }
        defer { endOperation() }
        return try body()
    }

    /// Writes the run record; one that cannot be written (a full file system)
    /// is said loudly: a new hvd would not find this guest by it.
    func saveRecord(_ rec: RunRecord) {
        guard !rec.save(folder.stateFile) else { return }
        let room = Self.freeBytes(folder.runDir.path).map { " (\($0 >> 10) KiB free)" } ?? ""
        ctx.log.error(
            "\(folder.name): its record \(folder.stateFile.path) could not be written\(room): a new hvd would not find this running guest; free space on that file system"
        )
    }

    /// Waits until the monitor has seen QEMU exit.
    private func waitStopped(_ seconds: Double) -> Bool {
        shared.wait(until: Date().addingTimeInterval(seconds), for: { !$0.state.isActive }) { !$0.state.isActive }
    }

    /// Waits for the ready line; returns the boot's seconds.
    func waitForBoot(timeout: Double) throws -> Double {
        let ended: (SupervisedGuest) -> Bool = { s in
            s.record?.bootedAt != nil || [.stalled, .stopped, .crashed].contains(s.state)
        }
        return try shared.wait(until: Date().addingTimeInterval(timeout), for: ended) { s in
            if let rec = s.record, let booted = rec.bootedAt { return booted.timeIntervalSince(rec.bootStartedAt) }
            switch s.state {
            case .stalled:
                throw HVError(
                    .bootStalled, s.stallMessage ?? "the boot of \(folder.name) stalled",
                    hint: "the guest is left as it is: see \(folder.consoleLog.path), then hv_guest_restart or hv_guest_stop")
            case .stopped, .crashed:
                throw HVError(
                    .io, "guest \(folder.name) stopped during boot (\(s.lastStop ?? "unknown reason"))",
                    hint: "see \(folder.consoleLog.path) and \(folder.qemuLog.path)")
            default:
                throw HVError(
                    .timeout, "guest \(folder.name) did not finish booting within \(Int(timeout)) s",
                    hint: "it keeps running; watch it with hv_guest_console")
            }
        }
    }

    func handle(_ event: QMPEvent, generation gen: Int) {
        shared.withLock { s in
            guard gen == s.generation else { return }
            if event.name == "SHUTDOWN", event.data["guest"]?.bool == true { s.guestPoweredOff = true }
        }
        switch event.name {
        case "BLOCK_IO_ERROR": noteIOError(event, generation: gen)
        case "RESUME": noteResumed(generation: gen)
        default: break
        }
        if event.name == "WATCHDOG" {
            // QEMU already acted (reset, or nothing for "report"); hvd says so.
            let action = event.data["action"]?.string ?? "?"
            ctx.events.post(.watchdog, guest: folder.name, "the guest's watchdog expired (it stopped feeding it); QEMU's action: \(action)")
        }
    }
}

/// A supervised guest's changing part: what its supervisor and the threads
/// watching it share, behind `GuestSupervisor.shared`.
struct SupervisedGuest {
    var state: GuestState = .stopped
    var record: RunRecord?
    var qmp: QMPClient?
    var stopReason: StopReason?
    var guestPoweredOff = false
    var consoleHolder: String?
    var lastStop: String?
    var stallMessage: String?
    /// An operation (start, stop, restart) is under way.
    var busy = false
    /// Counts QEMU runs: threads of an earlier run see it changed and end.
    var generation = 0
    /// Counts boots within a run (a reset starts a new one).
    var bootGeneration = 0
    /// When OnCrash=restart restarted the guest (for its limit).
    var crashRestarts: [Date] = []
    /// Its devices' interrupt threads as the interrupt watch placed them (irq → thread, 0: none).
    var interruptThreads: [Int: pid_t] = [:]
    /// QEMU paused the guest at a failed write (a full disk): why (GuestSupervisor+Pause).
    var paused: String?
    /// The backup under way (GuestSupervisor+Backup).
    var backup: GuestBackupProgress?
    /// The qualification under way or last run by this hvd (GuestSupervisor+Qualify).
    var qualification: QualificationRun?
    /// A qualification is being started (two requests at once start one).
    var qualificationStarting = false
}
