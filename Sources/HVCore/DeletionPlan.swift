import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Deleting a guest: what goes (its folder, a disk image in it with its size,
/// its UEFI variables and TPM state, its hv.config entry) and what stays (a
/// disk configured elsewhere, e.g. under VMs/). Nothing is deleted outright:
/// the folder moves to backup/<time>/ and hv.config is rewritten atomically
/// with the old one saved beside it. Callers refuse running guests first.
public struct DeletionPlan: Sendable, Codable, Equatable {
    public var folder: String
    public var name: String
    /// One line per thing that goes, for the confirmation question.
    public var goes: [String]
    /// What is kept, said so that nobody wonders.
    public var kept: [String]

    public init(folder: String, name: String, goes: [String], kept: [String]) {
        self.folder = folder
        self.name = name
        self.goes = goes
        self.kept = kept
    }

    public static func make(layout: HostLayout, folder name: String) throws -> DeletionPlan {
        let folder = layout.guest(name)
        guard FileManager.default.fileExists(atPath: folder.url.path) else {
            throw HVError(.notFound, "there is no guest folder \(folder.url.path)")
        }
        let config = try? GuestConfig.load(from: folder)
        var goes = ["\(folder.url.path)/, with everything in it"]
        for disk in Backup.diskImages(in: folder.url) {
            goes.append("the disk image \(disk.path) (\(Backup.sizeText(disk))): the guest's installed system and all its settings")
        }
        for extra in [folder.nvram, folder.tpmDir] where FileManager.default.fileExists(atPath: extra.path) {
            goes.append("\(extra.lastPathComponent) (its UEFI variables / TPM state)")
        }
        let section = "Guests\\\(name)"
        if let doc = try RegistryFile.readIfPresent(layout.hvConfig), !doc.entries(in: section).isEmpty {
            goes.append("its entry [\(section)] in \(layout.hvConfig.path)")
            let shared = memberships(of: name, in: doc).map { "[\($0)]" }
            if !shared.isEmpty { goes.append("its place in " + shared.joined(separator: ", ")) }
        }
        var kept: [String] = []
        if let config, config.kind == .kvm || config.hasRootDisk, !config.diskImage.isEmpty {
            kept.append("the disk \(layout.resolve(config.diskImage).path) (configured outside the guest folder; hv never deletes it)")
        }
        return DeletionPlan(folder: name, name: config?.name ?? name, goes: goes, kept: kept)
    }

    /// The [SharedMemory\…] and [Event\…] sections that list `folder`.
    public static func memberships(of folder: String, in doc: RegistryDocument) -> [String] {
        doc.sections.filter { $0.hasPrefix(CommunicationConfig.regionPrefix) || $0.hasPrefix(CommunicationConfig.eventPrefix) }
            .filter { (doc.value($0, "Guests") ?? "").split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == folder } }
    }

}
