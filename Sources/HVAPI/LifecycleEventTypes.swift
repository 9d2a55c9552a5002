import Foundation
import HVCore

/// One thing that happened to a guest, the VMF or hvd (`hv events`, GET /v1/lifecycle).
public struct LifecycleEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case daemonStarted = "daemon-started", vmfLoaded = "vmf-loaded", vmfUnloaded = "vmf-unloaded"
        case started, booted, stopped, crashed, stalled, adopted
        case restarting, restartLimit = "restart-limit", watchdog, heartbeatMissed = "heartbeat-missed"
        /// One of hvd's records (run/*.json) could not be read: kept aside, named in the detail.
        case recordDamaged = "record-damaged"
        /// QEMU paused a guest at a failed write (its disk's file system full), and it ran again.
        case paused, resumed
        /// `hv guest snapshot`: a snapshot taken, reverted to, deleted.
        case snapshotTaken = "snapshot-taken", snapshotReverted = "snapshot-reverted", snapshotDeleted = "snapshot-deleted"
        /// `hv guest backup` and `hv guest restore`.
        case backupWritten = "backup-written", restored
        /// `hv rt qualify`: started; passed; worse than the baseline; ended otherwise (stopped, broke, interrupted, failed).
        case rtQualificationStarted = "rt-qualification-started", rtQualified = "rt-qualified", rtRegressed = "rt-regressed"
        case rtQualificationEnded = "rt-qualification-ended"
    }
    /// Increases by one per event within one hvd (`daemon`).
    public var seq: Int
    public var time: String
    public var kind: Kind
    /// The guest's folder name; nil for the VMF and hvd.
    public var guest: String?
    public var detail: String

    public init(seq: Int, time: String, kind: Kind, guest: String?, detail: String) {
        self.seq = seq
        self.time = time
        self.kind = kind
        self.guest = guest
        self.detail = detail
    }
}

/// GET /v1/lifecycle?after=N&wait=S: the events after N (waiting up to S
/// seconds for one). `daemon` changes when hvd restarts; its sequence starts again.
public struct LifecycleEvents: Sendable, Codable, Equatable {
    public var daemon: String
    public var events: [LifecycleEvent]
    public init(daemon: String, events: [LifecycleEvent]) {
        self.daemon = daemon
        self.events = events
    }
}
