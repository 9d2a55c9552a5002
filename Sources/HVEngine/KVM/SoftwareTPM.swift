import Foundation
import HVCore
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// A TPM 2.0 for one KVM guest (Windows 11 will not install without one):
/// Debian's swtpm with its state in the guest folder. It daemonizes, so it
/// outlives hvd like the guest does, and `--terminate` ends it when QEMU
/// closes the connection, however QEMU ends.
public enum SoftwareTPM {
    public static var isInstalled: Bool { Executables.find("swtpm") != nil }

    public static func start(folder: GuestFolder, identity: GuestIdentity) throws {
        guard let swtpm = Executables.find("swtpm") else {
            throw HVError(
                .notFound, "swtpm is not installed, and this guest is configured with a TPM",
                hint: "install swtpm and swtpm-tools (hv setup does), or set \"Tpm\"=\"no\" in [Guest\\Security] of usr.config")
        }
        try GuestLauncher.prepareRunDirs(folder, identity: identity)
        try FileManager.default.createDirectory(
            at: folder.tpmDir, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        // The state is the guest's own: its user alone reads it.
        try identity.ownTree(folder.tpmDir)
        unlink(folder.swtpmSocket.path)
        let argv = [
            swtpm, "socket", "--tpm2",
            "--tpmstate", "dir=\(folder.tpmDir.path),mode=0600",
            "--ctrl", "type=unixio,path=\(folder.swtpmSocket.path),mode=0600",
            "--log", "file=\(folder.swtpmLog.path),level=1",
            "--pid", "file=\(pidFile(folder).path)",
            "--terminate", "--daemon",
        ]
        // Its output goes to root's run folder: hvd opens no file in the guest user's folder for writing.
        let pid = try Spawn.detached(
            argv, log: folder.runDir.appendingPathComponent("swtpm.out"),
            environment: CleanEnvironment.make(), identity: identity)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: folder.swtpmSocket.path) { return }
            usleep(10_000)
        }
        throw HVError(
            .io, "swtpm did not open \(folder.swtpmSocket.path) within 5 s",
            hint: "see \(folder.swtpmLog.path)")
    }

    static func pidFile(_ folder: GuestFolder) -> URL { folder.qemuDir.appendingPathComponent("swtpm.pid") }

    /// Ends a swtpm that QEMU never connected to (a start that failed after it).
    public static func stop(folder: GuestFolder) {
        defer {
            unlink(pidFile(folder).path)
            unlink(folder.swtpmSocket.path)
        }
        // The guest's user could have put anything there (a FIFO would block a plain read).
        guard let text = try? GuestWritten.readText(pidFile(folder), maxBytes: 64),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
        else { return }
        // Only if that pid is still this guest's swtpm (pids are reused).
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        guard String(decoding: cmdline, as: UTF8.self).contains(folder.swtpmSocket.path) else { return }
        kill(pid, SIGTERM)
    }

}
