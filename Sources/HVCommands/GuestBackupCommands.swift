import ArgumentParser
import Foundation
import HVAPI
import HVCore

/// `hv guest backup NAME [--to DIR]`: hvd writes one archive of the guest
/// (also while it runs); this command shows its progress meanwhile.
struct GuestBackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write one archive of a guest (its disk, folder, hv.config entry and a manifest with checksums), also while it runs.")

    @Argument(help: "Guest name or folder") var guest: String
    @Option(help: "The folder to write the archive to (default: HV_ROOT/backup).") var to: String?

    func run() throws {
        let ctx = Context()
        let dir = to.map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path }
        let done = WaitingNote()
        let guest = self.guest
        // Progress on the terminal while hvd works (a line rewritten in place).
        let interactive = isatty(1) == 1
        Thread.detachNewThread {
            var last = ""
            while done.sleep(1) {
                guard let p = try? ctx.api.get(.guestBackupProgress(guest), as: GuestBackupProgress.self), let phase = p.phase else { continue }
                let line =
                    phase == "the disk" && p.diskBytes > 0
                    ? "backing up \(guest): the disk, \(p.bytes >> 20) of about \(p.diskBytes >> 20) MiB"
                    : "backing up \(guest): \(phase)"
                guard line != last else { continue }
                last = line
                if interactive { FileHandle.standardError.write(Data("\r\u{1b}[K\(line)".utf8)) } else { Out.warn(line) }
            }
            if interactive && !last.isEmpty { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
        }
        defer { done.finish() }
        let r = try ctx.api.post(.guestBackup(guest), GuestBackupRequest(to: dir), as: GuestBackupResult.self, timeout: 24 * 3600)
        done.finish()
        usleep(50_000)
        Out.say(r.message)
    }
}

/// `hv guest restore ARCHIVE [--as NAME]`: says what it would create, asks,
/// then hvd restores; a damaged archive is refused and nothing changes.
struct GuestRestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring a guest back from its backup (this host or another); overwrites nothing, asks first.")

    @Argument(help: "The archive (.hvbackup.tar) a backup wrote") var archive: String
    @Option(name: .customLong("as"), help: "Restore under this folder name (default: the guest's own).") var name: String?
    @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes.") var yes = false

    func run() throws {
        let api = Context().api
        let path = URL(fileURLWithPath: archive, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path
        do {
            let r = try api.post(.guestRestore, RestoreRequest(archive: path, as: name, confirm: yes), as: RestoreResult.self, timeout: 24 * 3600)
            Out.say(r.message)
        } catch let e as HVError where e.code == .needsConfirmation {
            Out.say(e.message.prefix(1).uppercased() + e.message.dropFirst() + ".")
            try Confirm.ask("Restore it?", yes: false)
            let r = try api.post(.guestRestore, RestoreRequest(archive: path, as: name, confirm: true), as: RestoreResult.self, timeout: 24 * 3600)
            Out.say(r.message)
        }
    }
}
