import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

#if canImport(Glibc)
import Glibc
#endif

/// Runs a guest's vm_shutdown_hook.sh after it stopped, however it stopped.
enum ShutdownHook {
    static func run(folder: GuestFolder, name: String, reason: StopReason, extraEnv: [String: String], log: Logger) {
        let hook = folder.shutdownHook
        guard FileManager.default.fileExists(atPath: hook.path) else { return }
        // HV_ROOT as before: hooks may use it; nothing else of hvd's environment.
        var env = CleanEnvironment.make(extraEnv, root: folder.url.deletingLastPathComponent().deletingLastPathComponent())
        env["HV_GUEST_NAME"] = name
        env["HV_GUEST_FOLDER"] = folder.name
        env["HV_STOP_REASON"] = reason.rawValue
        env["HV_STOP_TIME"] = Timestamp.iso8601()
        let header = "--- \(env["HV_STOP_TIME"] ?? "") \(folder.name) stopped (\(reason.rawValue))\n"
        do { try TrustedFile.check(hook, use: "hv runs it as root at every stop") } catch {
            append(header + "not run: \(error)\n", to: folder.shutdownHookLog)
            log.info("\(folder.name): vm_shutdown_hook.sh not run: \(error)")
            return
        }
        do {
            let out = try Command.run(["bash", hook.path], timeout: 60, cwd: folder.url, environment: env)
            var text = header + out.stdout + out.stderr
            if out.timedOut { text += "(hook killed after 60 s)\n" } else if out.status != 0 { text += "(hook exited with status \(out.status))\n" }
            append(text, to: folder.shutdownHookLog)
            log.info("\(folder.name): vm_shutdown_hook.sh ran (reason \(reason.rawValue), status \(out.status))")
        } catch {
            append(header + "hook could not run: \(error)\n", to: folder.shutdownHookLog)
            log.info("\(folder.name): vm_shutdown_hook.sh could not run: \(error)")
        }
    }

    /// Appends without following a link planted in the log's place.
    static func append(_ text: String, to url: URL) {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let h = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        h.write(Data(text.utf8))
    }
}
