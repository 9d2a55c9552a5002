import Foundation
import HVCore
import HVHost

// The writes of the backup and deletion model (HVCore describes, hvd moves):
// only hvd links this module, so only hvd moves guest folders to backup/,
// deletes a backup or drops a guest from hv.config.

extension DeletionPlan {
    /// Drops the guest from hv.config, then moves the folder to
    /// backup/<time>/; returns the backup folder. In that order: cut short
    /// between the two, hv.config never names a folder that is gone (the
    /// folder is left whole, outside the configuration).
    func perform(layout: HostLayout) throws -> URL {
        let backup = try Backup.newFolder(layout: layout, stamp: Backup.stamp())
        let section = "Guests\\\(folder)"
        if var doc = try RegistryFile.readIfPresent(layout.hvConfig), !doc.entries(in: section).isEmpty {
            try FileManager.default.createDirectory(at: backup.appendingPathComponent("config"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: layout.hvConfig, to: backup.appendingPathComponent("config/hv.config"))
            doc.removeSection(section)
            // Regions and events name their guests: the deleted one leaves their lists.
            for sharing in Self.memberships(of: folder, in: doc) {
                let rest = (doc.value(sharing, "Guests") ?? "").split(separator: ",")
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != folder }
                doc.set(sharing, "Guests", rest.joined(separator: ","))
            }
            try RegistryFile.write(doc, to: layout.hvConfig)
        }
        try Backup.move([folder], config: false, layout: layout, into: backup)
        return backup
    }
}

extension Backup {
    /// Moves (never copies, never deletes) guest folders and hv.config into backup/<stamp>/.
    static func move(layout: HostLayout, folders: [String], config: Bool, stamp: String) throws -> URL {
        let dir = try newFolder(layout: layout, stamp: stamp)
        try move(folders, config: config, layout: layout, into: dir)
        return dir
    }

    /// backup/<stamp>/ (or <stamp>-2, …): a folder of its own, created.
    static func newFolder(layout: HostLayout, stamp: String) throws -> URL {
        let fm = FileManager.default
        var dir = layout.backupDir.appendingPathComponent(stamp)
        var n = 1
        while fm.fileExists(atPath: dir.path) {
            n += 1
            dir = layout.backupDir.appendingPathComponent("\(stamp)-\(n)")
        }
        try fm.createDirectory(at: dir.appendingPathComponent("guests"), withIntermediateDirectories: true)
        return dir
    }

    static func move(_ folders: [String], config: Bool, layout: HostLayout, into dir: URL) throws {
        let fm = FileManager.default
        for f in folders {
            try fm.moveItem(at: layout.guestsDir.appendingPathComponent(f), to: dir.appendingPathComponent("guests").appendingPathComponent(f))
            // Runtime leftovers of a stopped guest go too.
            try? fm.removeItem(at: layout.guest(f).runDir)
        }
        if config {
            try fm.createDirectory(at: dir.appendingPathComponent("config"), withIntermediateDirectories: true)
            try fm.moveItem(at: layout.hvConfig, to: dir.appendingPathComponent("config/hv.config"))
        }
    }
}

extension BackupStore {
    /// Removes one backup folder; only a folder directly in backup/.
    func delete(_ entry: Entry) throws {
        guard !entry.name.isEmpty, !entry.name.contains("/"), entry.name != "..", entry.name != "." else {
            throw HVError(.invalidArgument, "\"\(entry.name)\" is not a backup")
        }
        try FileManager.default.removeItem(at: layout.backupDir.appendingPathComponent(entry.name))
    }
}
