import Foundation
import HVCore

/// System Manager projects beyond the examples: save the host's
/// configuration as a project, preview what syncing a project would change,
/// and sync it (guests it drops move to backup/, files are written atomically).
public struct ProjectInfo: Sendable, Codable, Equatable {
    public var name: String
    public var guests: [String]
    public var open: Bool
    public init(name: String, guests: [String], open: Bool) {
        self.name = name
        self.guests = guests
        self.open = open
    }
}

public struct SyncPreview: Sendable, Codable, Equatable {
    public var project: String
    /// One line per change, e.g. "guests/guest0002: new guest (RT-Linux)".
    public var changes: [String]
    /// The guest folders the sync writes, creates or moves away (a running one must not be).
    public var affectedGuests: [String]
    public init(project: String, changes: [String], affectedGuests: [String] = []) {
        self.project = project
        self.changes = changes
        self.affectedGuests = affectedGuests
    }
}

/// A project's files as text (the Ansible collection sends them): hv.config
/// and each guest's guest.config by folder.
public struct ProjectContent: Sendable, Codable, Equatable {
    public var hvConfig: String
    public var guests: [String: String]
    public init(hvConfig: String, guests: [String: String]) {
        self.hvConfig = hvConfig
        self.guests = guests
    }
}

public struct ProjectRequest: Sendable, Codable {
    public var name: String?
    public var confirm: Bool?
    public init(name: String? = nil, confirm: Bool? = nil) {
        self.name = name
        self.confirm = confirm
    }
}

/// `hv_open_example`: asked first (`confirm` false answers what the opening
/// replaces), then done by hvd, the one writer of guest folders and projects.
public struct ExampleOpenRequest: Sendable, Codable {
    public var confirm: Bool
    /// The guest folders the user was shown: the opening is refused when they changed since.
    public var expect: [String]?
    public init(confirm: Bool, expect: [String]? = nil) {
        self.confirm = confirm
        self.expect = expect
    }
}

public struct ExampleOpenResult: Sendable, Codable, Equatable {
    /// A guest folder the opening moves to backup/.
    public struct Replaced: Sendable, Codable, Equatable {
        public var folder: String
        public var path: String
        /// Its guest.config's name, where it has a readable one.
        public var name: String?
        /// "windows.qcow2 (12.0 GiB)": disk images inside the folder, which go with it.
        public var disks: [String]
        public init(folder: String, path: String, name: String?, disks: [String]) {
            self.folder = folder
            self.path = path
            self.name = name
            self.disks = disks
        }
    }
    public var example: String
    public var summary: String
    public var replaced: [Replaced]
    /// hv.config's path, when the opening moves it too.
    public var hvConfig: String?
    /// Planned: backup/; done: the folder they were moved to.
    public var backup: String?
    public var opened: Bool
    public init(example: String, summary: String, replaced: [Replaced], hvConfig: String?, backup: String?, opened: Bool) {
        self.example = example
        self.summary = summary
        self.replaced = replaced
        self.hvConfig = hvConfig
        self.backup = backup
        self.opened = opened
    }
}
