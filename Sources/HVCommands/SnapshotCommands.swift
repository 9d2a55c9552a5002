import ArgumentParser
import Foundation
import HVAPI
import HVCore

/// `hv guest snapshot NAME create|list|revert|delete [SNAP]`: a client of
/// hvd's snapshot endpoints. A revert and a delete ask first (hvd says what
/// a revert replaces; it keeps that as an automatic snapshot).
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "A guest's snapshots: its disk, UEFI variables and TPM state together.",
        discussion: """
            create [SNAP]   take one (named from the time unless SNAP is given); while the guest runs, its
                            disk is kept as after a power cut (the RAM is not kept)
            list            the guest's snapshots
            revert SNAP     put the stopped guest back as SNAP holds it; what it replaces is kept first
                            as a snapshot named before-revert-<time>
            delete SNAP     delete a snapshot (asks first)
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable { case create, list, revert, delete }

    @Argument(help: "Guest name or folder") var guest: String
    @Argument(help: "create, list, revert or delete") var action: Action
    @Argument(help: "The snapshot's name") var snapshot: String?
    @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes (revert, delete).") var yes = false
    @Flag(help: "list: JSON for scripts.") var json = false

    func validate() throws {
        if (action == .revert || action == .delete) && snapshot == nil {
            throw ValidationError(
                "name the snapshot to \(action.rawValue): hv guest snapshot \(guest) \(action.rawValue) SNAP (hv guest snapshot \(guest) list shows them)")
        }
        if let snapshot, let why = SnapshotName.problem(snapshot) {
            throw ValidationError("\"\(snapshot)\" is not a snapshot name: \(why)")
        }
    }

    func run() throws {
        let api = Context().api
        switch action {
        case .list:
            let list = try api.get(.snapshotList(guest), as: SnapshotList.self)
            if json {
                FileHandle.standardOutput.write(APIJSON.encode(list) + Data("\n".utf8))
                return
            }
            Out.say(Self.describe(list))
        case .create:
            let r = try api.post(.snapshotCreate(guest), SnapshotRequest(name: snapshot), as: SnapshotResult.self, timeout: 3600)
            Out.say(r.message)
        case .revert, .delete:
            let name = snapshot ?? ""
            let endpoint: Endpoint = action == .revert ? .snapshotRevert(guest, name) : .snapshotDelete(guest, name)
            do {
                // hvd answers what would happen; nothing changes without the user's yes.
                let r = try api.post(endpoint, SnapshotChangeRequest(confirm: yes), as: SnapshotResult.self, timeout: 3600)
                Out.say(r.message)
            } catch let e as HVError where e.code == .needsConfirmation {
                Out.say(e.message.prefix(1).uppercased() + e.message.dropFirst() + ".")
                try Confirm.ask(action == .revert ? "Revert \(guest) to \(name)?" : "Delete snapshot \(name)?", yes: false)
                let r = try api.post(endpoint, SnapshotChangeRequest(confirm: true), as: SnapshotResult.self, timeout: 3600)
                Out.say(r.message)
            }
        }
    }

    static func describe(_ list: SnapshotList) -> String {
        guard !list.snapshots.isEmpty || !list.diskOnly.isEmpty else {
            return "\(list.guest) has no snapshots (take one: hv guest snapshot \(list.guest) create)"
        }
        var rows = [["NAME", "TAKEN", "HOLDS", "NOTE"]]
        for s in list.snapshots {
            let note = [s.automatic ? "kept by a revert" : nil, s.complete ? nil : "incomplete", s.note].compactMap { $0 }.joined(separator: "; ")
            rows.append([s.name, s.createdAt, s.contents.joined(separator: ", "), note])
        }
        for tag in list.diskOnly {
            rows.append([
                tag, "?", "disk only", "a disk snapshot hv did not take (or one cut short): delete it with hv guest snapshot \(list.guest) delete \(tag)",
            ])
        }
        return Out.table(rows)
    }
}
