import Foundation
import HVCore
import HVEngine

/// Runs a guest's vm_shutdown_hook.sh after it stopped, however it stopped.
enum ShutdownHook {
    static func run(folder: GuestFolder, name: String, reason: String, extraEnv: [String: String], log: Logger) {
        let hook = folder.shutdownHook
        guard FileManager.default.fileExists(atPath: hook.path) else { return }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extraEnv { env[k] = v }
        env["HV_GUEST_NAME"] = name
        env["HV_GUEST_FOLDER"] = folder.name
        env["HV_STOP_REASON"] = reason
        env["HV_STOP_TIME"] = ISO8601DateFormatter().string(from: Date())
        let header = "--- \(env["HV_STOP_TIME"] ?? "") \(folder.name) stopped (\(reason))\n"
        do {
            let out = try Command.run(["bash", hook.path], timeout: 60, cwd: folder.url, environment: env)
            var text = header + out.stdout + out.stderr
            if out.timedOut { text += "(hook killed after 60 s)\n" } else if out.status != 0 { text += "(hook exited with status \(out.status))\n" }
            append(text, to: folder.shutdownHookLog)
            log.info("\(folder.name): vm_shutdown_hook.sh ran (reason \(reason), status \(out.status))")
        } catch {
            append(header + "hook could not run: \(error)\n", to: folder.shutdownHookLog)
            log.info("\(folder.name): vm_shutdown_hook.sh could not run: \(error)")
        }
    }

    static func append(_ text: String, to url: URL) {
        if let h = FileHandle(forWritingAtPath: url.path) ?? {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            return FileHandle(forWritingAtPath: url.path)
        }() {
            h.seekToEndOfFile()
            h.write(Data(text.utf8))
            try? h.close()
        }
    }
}

/// hvd's log: one line per event, with the time, on stderr (log/hvd.log).
final class Logger: @unchecked Sendable {
    private let lock = NSLock()
    private let formatter = ISO8601DateFormatter()
    func info(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data("\(formatter.string(from: Date())) \(message)\n".utf8))
    }
}
