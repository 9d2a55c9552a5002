import Foundation
import HVCore

/// POST /v1/guests/{ref}/backup: `to` a folder for the archive (nil: HV_ROOT/backup;
/// only root, on hvd's socket, may name another).
public struct GuestBackupRequest: Sendable, Codable {
    public var to: String?
    public init(to: String?) { self.to = to }
}

public struct GuestBackupResult: Sendable, Codable, Equatable {
    public var message: String
    public var archive: String
    public var bytes: UInt64
    public var whileRunning: Bool
    public init(message: String, archive: String, bytes: UInt64, whileRunning: Bool) {
        self.message = message
        self.archive = archive
        self.bytes = bytes
        self.whileRunning = whileRunning
    }
}

/// GET /v1/guests/{ref}/backup: the backup under way (`phase` nil: none).
public struct GuestBackupProgress: Sendable, Codable, Equatable {
    public var phase: String?
    public var bytes: UInt64
    /// The disk's bytes in use, what the copy grows towards.
    public var diskBytes: UInt64
    public init(phase: String?, bytes: UInt64, diskBytes: UInt64) {
        self.phase = phase
        self.bytes = bytes
        self.diskBytes = diskBytes
    }
}

/// POST /v1/backups/restore (hvd's socket only: a restored guest's scripts run as root).
/// Without `confirm` hvd answers what it would create (needsConfirmation) and creates nothing.
public struct RestoreRequest: Sendable, Codable {
    public var archive: String
    public var `as`: String?
    public var confirm: Bool
    public init(archive: String, as name: String?, confirm: Bool) {
        self.archive = archive
        self.as = name
        self.confirm = confirm
    }
}

public struct RestoreResult: Sendable, Codable, Equatable {
    public var message: String
    public var folder: String
    public init(message: String, folder: String) {
        self.message = message
        self.folder = folder
    }
}

/// `hv backup prune`: asked first (`confirm` false answers what would go), then done by hvd.
public struct BackupPruneRequest: Sendable, Codable {
    /// How many of the newest backups stay.
    public var keep: Int
    public var confirm: Bool
    /// The backups the user was shown as going: refused when that changed since.
    public var expect: [String]?
    public init(keep: Int, confirm: Bool, expect: [String]? = nil) {
        self.keep = keep
        self.confirm = confirm
        self.expect = expect
    }
}

public struct BackupPruneResult: Sendable, Codable, Equatable {
    /// Newest first, as `hv backup list` shows them.
    public var going: [BackupStore.Entry]
    public var kept: Int
    public var deleted: Bool
    public init(going: [BackupStore.Entry], kept: Int, deleted: Bool) {
        self.going = going
        self.kept = kept
        self.deleted = deleted
    }
}
