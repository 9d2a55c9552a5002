import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// The terminal side of a guest console: raw mode, Ctrl-] detaches, the
/// guest keeps running. Without a terminal (a pipe), input ends the session
/// once the guest has been quiet for half a second after the last input.
enum ConsoleClient {
    static let detachByte: UInt8 = 0x1D  // Ctrl-]

    final class Flags: @unchecked Sendable {
        let lock = NSLock()
        var detached = false
        var inputEnded = false
        func set(_ f: (Flags) -> Void) {
            lock.lock()
            f(self)
            lock.unlock()
        }
        func get<T>(_ f: (Flags) -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return f(self)
        }
    }

    static func run(api: APIClient, ref: String, title: String, replay: String) throws {
        let tty = isatty(0) == 1
        let who = "\(NSUserName()) on \(tty ? String(cString: ttyname(0)) : "no terminal")"
        let (conn, early) = try api.openConsole(ref, replay: replay, client: who)
        defer { conn.close() }
        FileHandle.standardError.write(Data("[hv] console of \(title); Ctrl-] detaches, the guest keeps running\r\n".utf8))
        FileHandle.standardOutput.write(early)
        var saved = termios()
        if tty {
            tcgetattr(0, &saved)
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
        }
        defer {
            if tty {
                var s = saved
                tcsetattr(0, TCSANOW, &s)
            }
        }

        let flags = Flags()
        let input = Thread {
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = Glibc.read(0, &buf, buf.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    flags.set { $0.inputEnded = true }
                    return
                }
                var chunk = Array(buf[0..<n])
                if let i = chunk.firstIndex(of: detachByte) {
                    chunk = Array(chunk[..<i])
                    if !chunk.isEmpty { try? conn.write(Data(chunk)) }
                    flags.set { $0.detached = true }
                    conn.shutdown()
                    return
                }
                if (try? conn.write(Data(chunk))) == nil { return }
            }
        }
        input.start()
        var guestEnded = false
        while true {
            do {
                guard let data = try conn.read(timeout: 0.5) else {
                    guestEnded = !flags.get { $0.detached }
                    break
                }
                FileHandle.standardOutput.write(data)
            } catch let e as HVError where e.code == .timeout {
                if flags.get({ $0.inputEnded }) { break }
            } catch {
                guestEnded = !flags.get { $0.detached }
                break
            }
        }
        if tty {
            var s = saved
            tcsetattr(0, TCSANOW, &s)
        }
        let note = guestEnded ? "the console closed (the guest stopped, or hvd went away)" : "detached; \(title) keeps running"
        FileHandle.standardError.write(Data("\r\n[hv] \(note)\n".utf8))
    }
}
