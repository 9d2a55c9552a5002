import Foundation
import HVCore

/// `manifest.json`, the first member of a guest backup: what the archive
/// holds, each file's size and SHA-256, and the guest's entry in hv.config.
/// A restore reads it first and checks everything against it before it
/// creates anything.
public struct BackupManifest: Codable, Sendable, Equatable {
    public static let currentFormat = 1
    public static let fileName = "manifest.json"
    /// The guest folder's files live under this folder of the archive.
    public static let folderPrefix = "folder"
    public static let diskFile = "disk.qcow2"
    /// The guest's pinned SSH host key (RT-Linux's Debian root), as `hv-<folder> <key>`.
    public static let knownHostsFile = "keys/known_hosts"

    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: UInt64
        public var sha256: String
        /// Its permission bits (a restore never sets more than 0755 of them).
        public var mode: UInt32?
    }

    public struct Disk: Codable, Sendable, Equatable {
        /// Where it was on the host the backup was taken on.
        public var originalPath: String
        public var originalFormat: String
        /// The guest's size of it.
        public var virtualBytes: UInt64
    }

    public var format: Int
    public var hv: String
    public var createdAt: String
    public var folder: String
    public var name: String
    public var kind: String
    public var whileRunning: Bool
    /// The guest's `[Guests\<folder>]` entries in hv.config, in order.
    public var hvConfigEntry: [[String]]
    public var disk: Disk?
    public var files: [File]
    /// What the backup leaves out, for people (the exchange folder, logs).
    public var leftOut: [String]

    public func file(_ path: String) -> File? { files.first { $0.path == path } }
    public var totalBytes: UInt64 { files.reduce(0) { $0 + $1.bytes } }
}
