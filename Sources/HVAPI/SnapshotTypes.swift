import Foundation
import HVCore

/// A guest's snapshot as the API shows it (`hv guest snapshot NAME list`,
/// GET /v1/guests/{ref}/snapshots): the state of its disk, its UEFI
/// variables and its TPM at one moment, kept beside the guest.
public struct SnapshotInfo: Sendable, Codable, Equatable {
    public var name: String
    public var createdAt: String
    /// Taken while the guest ran: its disk as after a power cut (the RAM is not kept).
    public var whileRunning: Bool
    /// What it holds, for people: "disk (qcow2 internal snapshot)", "UEFI variables", "TPM state".
    public var contents: [String]
    /// False when part of it is missing (its disk snapshot was deleted by hand): it cannot be reverted to.
    public var complete: Bool
    /// Made by hv before a revert, holding what the revert replaced.
    public var automatic: Bool
    public var note: String?

    public init(
        name: String, createdAt: String, whileRunning: Bool, contents: [String], complete: Bool,
        automatic: Bool, note: String? = nil
    ) {
        self.name = name
        self.createdAt = createdAt
        self.whileRunning = whileRunning
        self.contents = contents
        self.complete = complete
        self.automatic = automatic
        self.note = note
    }
}

public struct SnapshotList: Sendable, Codable, Equatable {
    public var guest: String
    public var snapshots: [SnapshotInfo]
    /// Disk snapshots that no snapshot of hv's describes (made with qemu-img by hand, or cut short).
    public var diskOnly: [String]
    public init(guest: String, snapshots: [SnapshotInfo], diskOnly: [String]) {
        self.guest = guest
        self.snapshots = snapshots
        self.diskOnly = diskOnly
    }
}

/// POST /v1/guests/{ref}/snapshots: `name` nil takes one from the time.
public struct SnapshotRequest: Sendable, Codable {
    public var name: String?
    public init(name: String?) { self.name = name }
}

/// POST …/snapshots/{snap}/revert and …/delete: `confirm` must be true
/// (the caller asked the user); without it hvd answers what would happen.
public struct SnapshotChangeRequest: Sendable, Codable {
    public var confirm: Bool
    public init(confirm: Bool) { self.confirm = confirm }
}

public struct SnapshotResult: Sendable, Codable, Equatable {
    public var message: String
    public var snapshot: SnapshotInfo?
    /// A revert: the automatic snapshot holding what it replaced.
    public var kept: String?
    public init(message: String, snapshot: SnapshotInfo?, kept: String? = nil) {
        self.message = message
        self.snapshot = snapshot
        self.kept = kept
    }
}

/// Snapshot names: they are folder names and qcow2 snapshot tags.
public enum SnapshotName {
    public static let maxLength = 64
    /// The prefix of the snapshots hv makes before a revert.
    public static let beforeRevertPrefix = "before-revert-"

    /// nil when fine; else what is wrong with it.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count > maxLength { return "it is longer than \(maxLength) characters" }
        guard let first = name.unicodeScalars.first, first.isASCIILetterOrDigit else { return "it does not start with a letter or digit" }
        let bad = name.unicodeScalars.filter { !($0.isASCIILetterOrDigit || $0 == "-" || $0 == "_" || $0 == ".") }
        if let c = bad.first { return "it holds \"\(c)\"" }
        return nil
    }

    public static func check(_ name: String) throws {
        if let why = problem(name) {
            throw HVError(
                .invalidArgument, "\"\(name)\" is not a snapshot name: \(why)",
                hint: "up to \(maxLength) letters, digits, '-', '_' and '.', starting with a letter or digit; nothing was changed")
        }
    }

    /// A name from the time, such as "snap-20261205-073012".
    public static func fromTime(_ date: Date = Date(), prefix: String = "snap-") -> String {
        prefix + Timestamp.compact(date)
    }
}

extension Unicode.Scalar {
    var isASCIILetterOrDigit: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}
