import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

/// A scratch hv host for end-to-end tests: its own HV_ROOT, the built `hv`
/// and `hvd` with every hv_* link, and the RT-Linux image (built once per
/// test run). `cleanup()` stops every QEMU and hvd it started, by pid.
final class TestHost: @unchecked Sendable {
    struct Result {
        var status: Int32
        var out: String
        var err: String
        var all: String { out + err }
    }

    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let products = package.appendingPathComponent(".build/debug")
    static let imageRoot = URL(fileURLWithPath: "/tmp/hv-e2e-image")
    nonisolated(unsafe) static var imageBuilt = false
    static let imageLock = NSLock()

    let root: URL
    let bin: URL
    var layout: HostLayout { HostLayout(root: root) }
    /// Run every command (and so hvd and its guests) inside this network namespace.
    var netns: String?

    init() throws {
        // A session whose command already ended must not take the test process with it when written to.
        signal(SIGPIPE, SIG_IGN)
        let id = UUID().uuidString.prefix(6)
        root = URL(fileURLWithPath: "/tmp/hve-\(id)")
        bin = URL(fileURLWithPath: "/tmp/hve-\(id)-bin")
        let fm = FileManager.default
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        for exe in ["hv", "hvd"] {
            let src = Self.products.appendingPathComponent(exe)
            guard fm.isExecutableFile(atPath: src.path) else {
                throw HVError(.notFound, "\(src.path) is missing: run `swift build` before the end-to-end tests")
            }
            try fm.createSymbolicLink(at: bin.appendingPathComponent(exe), withDestinationURL: src)
        }
        for name in [
            "hv_open_example", "hv_sync_example", "hv_vmf_start", "hv_vmf_is_loaded", "hv_vmf_stop",
            "hv_guest_start", "hv_guest_restart", "hv_guest_console", "hv_guest_stop", "hv_set_autostart", "hv_resethv",
            "hv_brdelall",
        ] {
            try fm.createSymbolicLink(atPath: bin.appendingPathComponent(name).path, withDestinationPath: "hv")
        }
        try Self.buildImageOnce(using: bin)
        // 0755 by chmod, not by umask: guests' QEMUs (users of their own) pass through the root, and
        // tests running beside this one may have the process's umask at 077 for a moment (socket binds).
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        chmod(root.path, 0o755)
        try fm.createDirectory(at: layout.templatesDir, withIntermediateDirectories: true)
        try fm.createSymbolicLink(
            at: layout.template("rt-linux"),
            withDestinationURL: HostLayout(root: Self.imageRoot).template("rt-linux"))
    }

    static func buildImageOnce(using bin: URL) throws {
        imageLock.lock()
        defer { imageLock.unlock() }
        guard !imageBuilt else { return }
        let r = run(bin: bin, root: imageRoot, "hv", ["setup", "--skip-packages"], cwd: nil, input: nil, timeout: 900)
        guard r.status == 0 else { throw HVError(.io, "hv setup failed: \(r.all)") }
        imageBuilt = true
    }

    /// The test installer ISO (Tests/Fixtures/installer-iso), built once per test run.
    static let installerISO = imageRoot.appendingPathComponent("installer.iso")
    nonisolated(unsafe) static var installerBuilt = false

    static func buildInstallerOnce() throws -> URL {
        imageLock.lock()
        defer { imageLock.unlock() }
        guard !installerBuilt else { return installerISO }
        let script = package.appendingPathComponent("Tests/Fixtures/installer-iso/build.sh")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        // With the RT-Linux image's guest tools: the installed system joins the communication subsystem.
        p.arguments = [script.path, installerISO.path, "", HostLayout(root: imageRoot).template("rt-linux").appendingPathComponent("guest-tools").path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let log = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw HVError(.io, "building the installer ISO failed: \(String(decoding: log, as: UTF8.self))")
        }
        installerBuilt = true
        return installerISO
    }

    /// Puts the test installer where a KVM example expects its ISO.
    func provideISO(_ name: String) throws {
        let iso = try Self.buildInstallerOnce()
        try FileManager.default.createDirectory(at: layout.isoDir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: layout.isoDir.appendingPathComponent(name), withDestinationURL: iso)
    }

    func status(_ guest: String) throws -> GuestStatus {
        let r = run("hv", ["guest", "status", guest])
        guard r.status == 0 else { throw HVError(.io, "hv guest status \(guest): \(r.all)") }
        return try JSONDecoder().decode(GuestStatus.self, from: Data(r.out.utf8))
    }

    /// Polls until `condition` holds (true) or the time is up (false).
    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(250_000)
        }
        return condition()
    }

    func text(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    /// How many descriptors process `pid` holds on `file` (by /proc/PID/fd's links).
    func openDescriptors(pid: Int?, on file: URL) -> Int {
        guard let pid, let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return 0 }
        return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == file.path }.count
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["HV_ROOT"] = root.path
        env["PATH"] = bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        return env
    }

    func folder(_ name: String) -> URL { layout.guest(name).url }

    /// Puts the System Manager on a free loopback port (before hvd starts); returns the port.
    func useFreeManagerPort() throws -> Int {
        let port = try freePort()
        try FileManager.default.createDirectory(at: layout.configDir, withIntermediateDirectories: true)
        try "[Manager]\n    \"Port\"=\"\(port)\"\n".write(to: layout.managerConfig, atomically: true, encoding: .utf8)
        return port
    }

    /// Opens and syncs an example (and loads the VMF); returns the folder of its RTOS guest.
    /// Its RT-Linux guest boots `root` (the busybox image unless a test needs the Debian root).
    @discardableResult
    func prepare(_ example: String = "rt-linux", loadVMF: Bool = true, root: RTLinuxRoot = .busybox) throws -> URL {
        let open = run("hv_open_example", [example, "--yes"])
        let sync = run("hv_sync_example", [example])
        guard open.status == 0, sync.status == 0 else { throw HVError(.io, "preparing \(example): \(open.all)\(sync.all)") }
        let folder = try ExampleCatalogue.named(example).guests.first { $0.os.kind == .rtos }?.folder ?? "guestrtlinux"
        let dir = self.folder(folder)
        if root == .busybox { try writeUserConfig(dir, "") }
        if loadVMF {
            let r = run("hv_vmf_start", cwd: dir)
            guard r.status == 0 else { throw HVError(.io, "hv_vmf_start: \(r.all)") }
        }
        return dir
    }

    /// Writes a guest's usr.config. An RT-Linux guest keeps booting the busybox image (these
    /// tests need no userland) unless the text names its root; text that does not parse is
    /// written as it is (a test of a broken file).
    func writeUserConfig(_ dir: URL, _ text: String) throws {
        let usr = dir.appendingPathComponent("usr.config")
        let rtLinux = self.text(dir.appendingPathComponent("guest.config")).contains("\"Os\"=\"rt-linux\"")
        guard rtLinux, var doc = try? RegistryDocument(parsing: text, fileName: "usr.config") else {
            return try text.write(to: usr, atomically: true, encoding: .utf8)
        }
        if doc.value("Guest\\Boot", "Root") == nil { doc.set("Guest\\Boot", "Root", RTLinuxRoot.busybox.rawValue) }
        try doc.render().write(to: usr, atomically: true, encoding: .utf8)
    }

    @discardableResult
    func run(_ cmd: String, _ args: [String] = [], cwd: URL? = nil, input: String? = nil, timeout: Double = 180) -> Result {
        Self.run(bin: bin, root: root, cmd, args, cwd: cwd, input: input, timeout: timeout, netns: netns)
    }

    static func run(
        bin: URL, root: URL, _ cmd: String, _ args: [String], cwd: URL?, input: String?, timeout: Double,
        netns: String? = nil
    ) -> Result {
        let s = Session(bin: bin, root: root, cmd, args, cwd: cwd, netns: netns)
        if let input { s.send(input) }
        s.closeInput()
        return s.finish(timeout: timeout)
    }

    /// Starts a command whose input is fed while it runs (a console).
    func session(_ cmd: String, _ args: [String] = [], cwd: URL? = nil) -> Session {
        Session(bin: bin, root: root, cmd, args, cwd: cwd, netns: netns)
    }

    /// Runs a shell command in a guest through its serial console and returns what it printed.
    func guestRun(_ folder: String, _ command: String, serial: Bool = false, timeout: Double = 60) -> String {
        let s = session("hv", ["guest", "console"] + (serial ? ["--serial"] : []) + [folder])
        usleep(500_000)
        // A fresh token: the console's replay may hold an earlier command's marker.
        let token = UUID().uuidString.prefix(8)
        s.send("\n" + command + "; echo hv-done-\(token)-$((40+2))\n")
        let done = s.waitFor("hv-done-\(token)-42", timeout: timeout)
        s.send("\u{1d}")
        let r = s.finish(timeout: 20)
        if !done { Issue.record("\(command) did not finish in \(folder): \(r.out.suffix(500))") }
        return r.out
    }

    var hvdPid: Int32? {
        (try? String(contentsOf: layout.runDir.appendingPathComponent("hvd.pid"), encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    func qemuPid(_ folder: String) -> Int32? {
        (try? String(contentsOf: layout.guest(folder).pidFile, encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// `ip ARGS`: its status and output (stdout and stderr).
    static func ip(_ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try? p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // A zombie has exited; only its parent has not collected it yet.
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
    }

    /// Stops what this host started: each QEMU of ours and hvd, by pid.
    func cleanup() {
        // Unloading gives the RT cores back to the host (the partition is machine-wide).
        if FileManager.default.fileExists(atPath: layout.partitionState.path) {
            let groups = CPUPartition(stateFile: layout.partitionState).current.map { [$0.rtGroup, $0.hostGroup] } ?? []
            run("hv_vmf_stop", ["--yes"], timeout: 60)
            // Every test that loads the VMF checks this way that unloading leaves no cgroup behind.
            for group in groups where !group.isEmpty && FileManager.default.fileExists(atPath: group) {
                Issue.record("hv_vmf_stop left \(group) behind")
                rmdir(group)
            }
        }
        let runDirs = (try? FileManager.default.contentsOfDirectory(atPath: layout.runDir.path)) ?? []
        for d in runDirs {
            guard let pid = qemuPid(d), Self.isAlive(pid),
                let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                cmd.contains("qemu-system"), cmd.contains(root.path)
            else { continue }
            kill(pid, SIGKILL)
        }
        // A swtpm whose QEMU never connected would wait forever.
        for d in runDirs {
            let pidFile = layout.runDir.appendingPathComponent(d).appendingPathComponent("qemu/swtpm.pid")
            guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), Self.isAlive(pid),
                let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                cmd.contains("swtpm"), cmd.contains(root.path)
            else { continue }
            kill(pid, SIGKILL)
        }
        if let pid = hvdPid, Self.isAlive(pid),
            let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), cmd.contains("hvd")
        {
            kill(pid, SIGKILL)
        }
        // hvd leaves its loopback rule while guests run; this host's guests are gone now.
        LoopbackGuard(layout: layout).remove()
        // Guests' exchange folders are file systems of their own (and may sit in backup/ after a deletion).
        for point in ExchangeFolder.mounts(under: root) {
            if (try? Command.run(["umount", point], timeout: 20))?.status != 0 { _ = try? Command.run(["umount", "-l", point], timeout: 20) }
        }
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: bin)
    }
}

/// One running command with its output collected as it comes.
final class Session: @unchecked Sendable {
    let process = Process()
    private let stdin = Pipe()
    private let lock = NSLock()
    private var outData = Data()
    private var errData = Data()
    private let done = DispatchGroup()

    init(bin: URL, root: URL, _ cmd: String, _ args: [String], cwd: URL?, netns: String? = nil) {
        // hv's commands by name from the test's bin folder; anything else by its full path.
        let exe = cmd.hasPrefix("/") ? URL(fileURLWithPath: cmd) : bin.appendingPathComponent(cmd)
        if let netns {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", netns, exe.path] + args
        } else {
            process.executableURL = exe
            process.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        env["HV_ROOT"] = root.path
        env["PATH"] = bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        process.environment = env
        if let cwd { process.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin
        for (pipe, isOut) in [(out, true), (err, false)] {
            done.enter()
            Thread.detachNewThread { [self] in
                while true {
                    let d = pipe.fileHandleForReading.availableData
                    if d.isEmpty { break }
                    lock.lock()
                    if isOut { outData.append(d) } else { errData.append(d) }
                    lock.unlock()
                }
                done.leave()
            }
        }
        do { try process.run() } catch { Issue.record("cannot run \(cmd): \(error)") }
    }

    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: outData, as: UTF8.self)
    }

    func send(_ text: String) { try? stdin.fileHandleForWriting.write(contentsOf: Data(text.utf8)) }
    func closeInput() { try? stdin.fileHandleForWriting.close() }

    /// Waits until the output contains `text`.
    @discardableResult
    func waitFor(_ text: String, timeout: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            usleep(50_000)
        }
        return false
    }

    func finish(timeout: Double = 60) -> TestHost.Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("\(process.executableURL?.lastPathComponent ?? "?") did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        _ = done.wait(timeout: .now() + 5)
        lock.lock()
        defer { lock.unlock() }
        return TestHost.Result(
            status: process.terminationStatus, out: String(decoding: outData, as: UTF8.self),
            err: String(decoding: errData, as: UTF8.self))
    }
}
