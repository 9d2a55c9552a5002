import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

@testable import HVDaemon

#if canImport(Glibc)
import Glibc
#endif

/// The supervisor's paths that real QEMU only shows slowly or by luck, in
/// seconds with a stand-in (Tests/Fixtures/fake-qemu/fake_qemu.py): it holds
/// the guest lock, speaks QMP and "boots" into the console log, and
/// misbehaves on request. Each test has a scratch root of its own.
/// As root, as hvd runs: the stand-in runs as a guest user like QEMU.
@Suite(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
struct SupervisorTests {
    /// A scratch hv root with the rt-linux example's guest folder and a hvd context.
    final class Scratch {
        let root: URL
        let layout: HostLayout
        let ctx: DaemonContext
        let folder: GuestFolder
        let script: URL
        let marker = "fake-ready-\(UUID().uuidString.prefix(8))"
        let identity = GuestIdentity(
            uid: GuestIdentity.uidBase + 9200, gid: GuestIdentity.sharedGroup(),
            groups: [GuestIdentity.sharedGroup()])
        private var pids: [Int32] = []

        /// `usr`: lines for usr.config (the guest's own settings).
        init(usr: String = "") throws {
            root = URL(fileURLWithPath: "/tmp/hv-supervisor-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            layout = HostLayout(root: root)
            let guest = try #require(try ExampleCatalogue.named("rt-linux").guests.first)
            folder = layout.guest(guest.folder)
            try GuestFiles.write(guestConfig: GuestFiles.guestConfig(guest, project: "rt-linux"), into: folder)
            // No exchange mount (a loop device) for a stand-in.
            try ("[Guest\\Share]\n    \"GuestsFolder\"=\"no\"\n" + usr).write(to: folder.userConfig, atomically: true, encoding: .utf8)
            // The hook says why the guest stopped, one line per stop.
            let hook = try String(contentsOf: folder.shutdownHook, encoding: .utf8)
            try (hook + "echo \"$HV_STOP_REASON\" >> \"$(dirname \"$0\")/stops.txt\"\n")
                .write(to: folder.shutdownHook, atomically: true, encoding: .utf8)
            chmod(folder.shutdownHook.path, 0o755)
            script = root.appendingPathComponent("fake_qemu.py")
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../Fixtures/fake-qemu/fake_qemu.py").standardizedFileURL
            try FileManager.default.copyItem(at: source, to: script)
            chmod(script.path, 0o644)
            // run/ as hvd's start leaves it: root's, the group hv-qemu may pass.
            try FileManager.default.createDirectory(at: layout.runDir, withIntermediateDirectories: true)
            HostPermissions.prepareRunDir(layout)
            ctx = DaemonContext(layout: layout)
        }

        /// A supervisor whose starts launch the stand-in in `mode`, after
        /// `launchDelay` seconds of preparation (swtpm's start, say).
        func supervisor(mode: String, launchDelay: Double = 0) -> GuestSupervisor {
            let script = script.path, marker = marker, identity = identity, folder = folder
            return GuestSupervisor(folder: folder, ctx: ctx) { _, _, _ in
                var spec = LaunchSpec(
                    argv: [
                        "/usr/bin/python3", script, "-fake-mode", mode, "-fake-marker", marker,
                        "-qmp", "unix:\(folder.qmpSocket.path),server=on,wait=off",
                        "-chardev", "socket,id=serial0,path=\(folder.serialSocket.path),logfile=\(folder.consoleLog.path)",
                    ],
                    accelerator: .tcg, acceleratorReason: "a stand-in for QEMU", readyMarker: marker, identity: identity)
                spec.beforeLaunch = {
                    usleep(useconds_t(launchDelay * 1_000_000))
                    return []
                }
                return spec
            }
        }

        func remember(_ s: GuestSupervisor) { if let pid = s.status().pid { pids.append(Int32(pid)) } }

        /// A new hvd, which adopts what runs; and its supervisor of the guest.
        func newDaemonAdopting() -> (DaemonContext, GuestSupervisor) {
            let ctx = DaemonContext(layout: layout)
            ctx.adoptRunningGuests()
            return (ctx, ctx.supervisor(folder.name))
        }

        /// The hvd of `s` ends: its threads stop caring (a new run generation) and its QMP connection closes.
        func endDaemon(of s: GuestSupervisor) {
            s.shared.withLock { st in
                st.generation += 1
                st.qmp?.close()
                st.qmp = nil
            }
        }

        /// The stop reasons the shutdown hook saw, in order.
        var stops: [String] {
            ((try? String(contentsOf: folder.url.appendingPathComponent("stops.txt"), encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
        }

        func events(_ kind: LifecycleEvent.Kind) -> [LifecycleEvent] { ctx.events.after(0, wait: 0).events.filter { $0.kind == kind } }

        func waitUntil(_ seconds: Double, _ done: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if done() { return true }
                usleep(50_000)
            }
            return done()
        }

        /// Nothing survives a test: every stand-in it started is killed by its pid.
        func cleanup() {
            for pid in pids where kill(pid, 0) == 0 {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
            }
            _ = waitUntil(5) { !GuestLock.isHeld(folder.lockFile) }
            try? FileManager.default.removeItem(at: root)
        }
    }

    @Test func aStartWaitsForTheReadyLineAndAStopIsGraceful() throws {
        let host = try Scratch()
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "boots")
        let started = try sup.start(wait: true, timeout: 20)
        host.remember(sup)
        #expect(started.message.contains("is up in"), "\(started.message)")
        let status = sup.status()
        #expect(status.state == .running && status.booted && status.pid != nil)
        #expect(host.waitUntil(5) { !host.events(.booted).isEmpty }, "the boot is an event too")
        #expect(throws: HVError.self) { try sup.start(wait: false, timeout: 1) }

        let stopped = try sup.stop(force: false)
        #expect(stopped.message.contains("stopped gracefully"), "\(stopped.message)")
        #expect(sup.currentState == .stopped)
        #expect(host.stops == ["requested"])
        #expect(!FileManager.default.fileExists(atPath: host.folder.stateFile.path), "the run record goes with the guest")
        let again = try sup.stop(force: false)
        #expect(again.message.contains("not running"), "\(again.message)")
    }

    /// A stop that comes while a start is still launching waits for it, then
    /// stops the guest (still booting: at once); the waiting start says so.
    @Test func aStopDuringALaunchWaitsItsTurn() throws {
        let host = try Scratch()
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "stalls", launchDelay: 1.5)
        let started = Monitor<Result<ActionResult, Error>?>(nil)
        Thread.detachNewThread {
            let r = Result { try sup.start(wait: true, timeout: 30) }
            started.withLock { $0 = r }
        }
        #expect(host.waitUntil(5) { sup.shared.withLock { $0.busy } })
        let stopped = try sup.stop(force: false)
        host.remember(sup)
        #expect(stopped.message.contains("was still booting and was stopped at once"), "\(stopped.message)")
        #expect(sup.currentState == .stopped)
        #expect(host.waitUntil(10) { started.withLock { $0 != nil } })
        let answer = started.withLock { $0 }
        guard case .failure(let error as HVError)? = answer else {
            Issue.record("the start should fail: \(String(describing: answer))")
            return
        }
        #expect(error.message.contains("stopped during boot"), "\(error.message)")
    }

    /// The ladder: the power button unanswered within TimeoutSeconds, then QMP quit.
    @Test func aGuestThatIgnoresThePowerButtonIsStoppedByQuit() throws {
        let host = try Scratch(usr: "[Guest\\Stop]\n    \"TimeoutSeconds\"=\"1\"\n")
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "deaf")
        _ = try sup.start(wait: true, timeout: 20)
        host.remember(sup)
        let stopped = try sup.stop(force: false)
        #expect(stopped.message.contains("did not shut down within 1 s and was stopped by force"), "\(stopped.message)")
        #expect(sup.currentState == .stopped)
        #expect(host.stops == ["forced"])
    }

    /// The ladder's last rungs: quit unanswered, SIGTERM ignored, SIGKILL.
    @Test func aWedgedGuestIsKilled() throws {
        let host = try Scratch(usr: "[Guest\\Stop]\n    \"TimeoutSeconds\"=\"1\"\n")
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "wedged")
        _ = try sup.start(wait: true, timeout: 20)
        host.remember(sup)
        let pid = try #require(sup.status().pid)
        let stopped = try sup.stop(force: true)
        #expect(stopped.message.contains("forced, as asked"), "\(stopped.message)")
        #expect(kill(Int32(pid), 0) != 0, "the stand-in is gone")
        #expect(host.stops == ["requested"])
    }

    /// A boot that prints nothing is reset once; silent again, it is reported
    /// as stalled and left as it is.
    @Test func aStalledBootIsResetOnceThenReported() throws {
        let host = try Scratch(usr: "[Guest\\Boot]\n    \"BootStallSeconds\"=\"3\"\n")
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "stalls")
        let error = #expect(throws: HVError.self) { try sup.start(wait: true, timeout: 30) }
        host.remember(sup)
        #expect(error?.code == .bootStalled, "\(String(describing: error))")
        let status = sup.status()
        #expect(status.state == .stalled)
        #expect(status.notes.contains { $0.contains("hv reset it once") }, "\(status.notes)")
        #expect(host.events(.stalled).count == 1)
        _ = try sup.stop(force: true)
        #expect(sup.currentState == .stopped)
    }

    @Test func aBootThatStallsOnceRecoversAfterTheReset() throws {
        let host = try Scratch(usr: "[Guest\\Boot]\n    \"BootStallSeconds\"=\"3\"\n")
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "stalls-once")
        let started = try sup.start(wait: true, timeout: 30)
        host.remember(sup)
        #expect(started.message.contains("is up in"), "\(started.message)")
        #expect(sup.status().notes.contains { $0.contains("hv reset it once") })
        #expect(host.events(.stalled).isEmpty)
        _ = try sup.stop(force: false)
    }

    /// OnCrash=restart: restarted RestartLimitBurst times, then left crashed.
    @Test func aCrashingGuestIsRestartedUpToItsLimit() throws {
        let host = try Scratch(usr: "[Guest\\Recovery]\n    \"OnCrash\"=\"restart\"\n    \"RestartLimitBurst\"=\"2\"\n")
        defer { host.cleanup() }
        let sup = host.supervisor(mode: "crashes")
        _ = try sup.start(wait: true, timeout: 20)
        #expect(host.waitUntil(30) { !host.events(.restartLimit).isEmpty }, "\(host.ctx.events.after(0, wait: 0).events)")
        #expect(host.waitUntil(5) { sup.currentState == .crashed })
        #expect(host.events(.started).count == 3)
        #expect(host.events(.crashed).count == 3)
        #expect(host.events(.restarting).count == 2)
        #expect(host.stops == ["crashed", "crashed", "crashed"])
        #expect(sup.status().lastStop?.hasPrefix("crashed") == true)
    }

    /// An adopted QEMU that lets go of its lock and runs on (a guest that broke
    /// out faking its exit) is no stop: it is killed, then reported as crashed,
    /// and only then is anything it held given back.
    @Test func anAdoptedGuestThatDropsItsLockIsKilledNotMarkedStopped() throws {
        let host = try Scratch()
        defer { host.cleanup() }
        let first = host.supervisor(mode: "sheds-lock")
        _ = try first.start(wait: true, timeout: 20)
        host.remember(first)
        let pid = Int32(try #require(first.status().pid))
        host.endDaemon(of: first)
        let (second, adopted) = host.newDaemonAdopting()
        #expect(host.waitUntil(5) { adopted.currentState == .running })
        #expect(host.waitUntil(15) { adopted.currentState == .crashed }, "\(adopted.currentState)")
        #expect(
            kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true,
            "the process that dropped its lock is gone")
        let crash = second.events.after(0, wait: 0).events.first { $0.kind == .crashed }
        #expect(crash?.detail.contains("let go of its lock") == true, "\(String(describing: crash))")
        #expect(host.stops == ["crashed"])
    }

    /// A run record whose pid now names another process (reused) adopts no stranger.
    @Test func aRecordWhosePidWasReusedAdoptsNoStranger() throws {
        let host = try Scratch()
        defer { host.cleanup() }
        let first = host.supervisor(mode: "boots")
        _ = try first.start(wait: true, timeout: 20)
        host.remember(first)
        host.endDaemon(of: first)
        // The record claims another start time: the process at its pid is not the QEMU it started.
        var rec = try #require(RunRecord.load(host.folder.stateFile))
        rec.processStart = (rec.processStart ?? 0) + 1
        rec.save(host.folder.stateFile)
        let (second, adopted) = host.newDaemonAdopting()
        #expect(host.waitUntil(15) { adopted.currentState == .crashed }, "\(adopted.currentState)")
        let crash = second.events.after(0, wait: 0).events.first { $0.kind == .crashed }
        #expect(crash?.detail.contains("is gone") == true && crash?.detail.contains("still held") == true, "\(String(describing: crash))")
        #expect(!GuestLock.isHeld(host.folder.lockFile), "whatever held the lock was the guest's and is gone")
    }

    /// A new hvd takes over a running guest from its run record, and its stop
    /// is an ordinary one: one hook run, with the reason the new hvd knows.
    @Test func aNewDaemonAdoptsARunningGuest() throws {
        let host = try Scratch()
        defer { host.cleanup() }
        let first = host.supervisor(mode: "boots")
        _ = try first.start(wait: true, timeout: 20)
        host.remember(first)
        let pid = try #require(first.status().pid)
        host.endDaemon(of: first)
        let (second, adopted) = host.newDaemonAdopting()
        #expect(host.waitUntil(5) { adopted.currentState == .running })
        #expect(adopted.status().pid == pid)
        #expect(adopted.status().booted, "the boot finished under the first hvd")
        #expect(second.events.after(0, wait: 0).events.map(\.kind) == [.adopted])
        let stopped = try adopted.stop(force: false)
        #expect(stopped.message.contains("stopped gracefully"), "\(stopped.message)")
        #expect(host.stops == ["requested"])
    }
}
