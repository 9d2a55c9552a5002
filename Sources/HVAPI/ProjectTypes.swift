import Foundation
import HVCore

/// System Manager projects beyond the examples: save the host's
/// configuration as a project, preview what syncing a project would change,
/// and sync it (guests it drops move to backup/, files are written atomically).
public struct ProjectInfo: Sendable, Codable, Equatable {
    public var name: String
    public var guests: [String]
    public var open: Bool
    public init(name: String, guests: [String], open: Bool) { self.name = name; self.guests = guests; self.open = open }
}

public struct SyncPreview: Sendable, Codable, Equatable {
    public var project: String
    /// One line per change, e.g. "guests/guest0002: new guest (RT-Linux)".
    public var changes: [String]
    /// The guest folders the sync writes, creates or moves away (a running one must not be).
    public var affectedGuests: [String]
    public init(project: String, changes: [String], affectedGuests: [String] = []) {
        self.project = project; self.changes = changes; self.affectedGuests = affectedGuests
    }
}

/// A project's files as text (the Ansible collection sends them): hv.config
/// and each guest's guest.config by folder.
public struct ProjectContent: Sendable, Codable, Equatable {
    public var hvConfig: String
    public var guests: [String: String]
    public init(hvConfig: String, guests: [String: String]) { self.hvConfig = hvConfig; self.guests = guests }
}

public struct ProjectRequest: Sendable, Codable {
    public var name: String?
    public var confirm: Bool?
    public init(name: String? = nil, confirm: Bool? = nil) { self.name = name; self.confirm = confirm }
}
