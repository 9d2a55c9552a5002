import ArgumentParser
import Foundation
import HVAPI
import HVCore

/// `hv backup list|prune`: backup/ holds every guest folder, disk and
/// hv.config that hv replaced or deleted, one folder per time; it grows
/// until someone prunes it. Pruning names what goes and asks.
struct BackupGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "List or prune what hv saved in backup/ before replacing or deleting it.",
        subcommands: [List.self, Prune.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each backup, newest first, with its size and what it holds.")
        @Flag(help: "JSON for scripts.") var json = false
        func run() throws {
            let entries = BackupStore(layout: HostLayout.fromEnvironment()).entries()
            if json { return print(String(decoding: APIJSON.encode(entries), as: UTF8.self)) }
            guard !entries.isEmpty else { return Out.say("backup/ is empty") }
            Out.say(Out.table([["backup", "size", "holds"]] + entries.map { [$0.name, Backup.sizeText(bytes: $0.bytes), $0.holds.joined(separator: ", ")] }))
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete all but the newest N backups (asks first).")
        @Option(help: "How many of the newest backups to keep.") var keep = 5
        @Flag(help: "Answer yes (no terminal needed).") var yes = false
        func validate() throws {
            guard keep >= 0 else { throw ValidationError("--keep is a count of backups: 0 or more") }
        }
        func run() throws {
            let api = Context().api
            let plan = try api.post(.backupPrune, BackupPruneRequest(keep: keep, confirm: false), as: BackupPruneResult.self)
            let going = plan.going
            guard !going.isEmpty else {
                return Out.say("nothing to prune: \(BackupStore(layout: HostLayout.fromEnvironment()).entries().count) backup(s), keeping \(keep)")
            }
            Out.say("These backups are deleted for good (they are the only copies of what they hold):")
            for e in going { Out.say("  \(e.name)  \(Backup.sizeText(bytes: e.bytes))  \(e.holds.joined(separator: ", "))") }
            try Confirm.ask("Delete \(going.count) backup(s), keeping the newest \(keep)?", yes: yes)
            // hvd deletes them (the one writer of backup/), if they are still the ones shown.
            _ = try api.post(.backupPrune, BackupPruneRequest(keep: keep, confirm: true, expect: going.map(\.name)), as: BackupPruneResult.self)
            Out.say("deleted \(going.count) backup(s); \(keep) kept")
        }
    }
}
