import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// What every command starts from: the host layout and hvd.
struct Context {
    let layout = HostLayout.fromEnvironment()
    var api: APIClient { APIClient(layout: layout) }

    /// The guest whose folder the user is in (the seed's commands act on it).
    func currentGuest() throws -> String {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if let folder = layout.guestFolderName(containing: cwd), layout.guest(folder).exists { return folder }
        let guests = ((try? FileManager.default.contentsOfDirectory(atPath: layout.guestsDir.path)) ?? [])
            .filter { layout.guest($0).exists }.sorted()
        throw HVError(
            .invalidArgument,
            "\(cwd.path) is not a guest folder: this command acts on the guest of the folder you are in",
            hint: guests.isEmpty
                ? "create guests first: hv_open_example rt-linux && hv_sync_example rt-linux"
                : "cd \(layout.guestsDir.path)/\(guests[0]) first (guests: \(guests.joined(separator: ", "))), or use `hv guest <verb> NAME`")
    }
}

enum Confirm {
    /// Asks on the terminal; --yes answers; without a terminal it refuses.
    static func ask(_ question: String, yes: Bool) throws {
        if yes { return }
        guard isatty(0) == 1 else {
            throw HVError(
                .needsConfirmation, "\(question.trimmingCharacters(in: .whitespacesAndNewlines)) There is no terminal to ask on, so nothing was changed.",
                hint: "run it on a terminal, or pass --yes to answer yes")
        }
        print("\(question) [y/N] ", terminator: "")
        fflush(nil)
        let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        guard answer == "y" || answer == "yes" else {
            throw HVError(.cancelled, "cancelled; nothing was changed")
        }
    }
}

enum Out {
    static func say(_ s: String) {
        print(s)
        fflush(nil)
    }
    static func warn(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Lets a reporting thread sleep until the work it reports on is done.
final class WaitingNote: @unchecked Sendable {
    private let cond = NSCondition()
    private var done = false

    /// False once finished (at once, not after the rest of the sleep).
    func sleep(_ seconds: Double) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        let deadline = Date().addingTimeInterval(seconds)
        while !done { if !cond.wait(until: deadline) { break } }
        return !done
    }

    func finish() {
        cond.lock()
        done = true
        cond.broadcast()
        cond.unlock()
    }
}
