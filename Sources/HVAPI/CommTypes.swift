import Foundation
import HVCore

/// The communication subsystem as `GET /v1/comm` shows it.
public struct CommStatus: Sendable, Codable, Equatable {
    public struct Member: Sendable, Codable, Equatable {
        public var folder: String
        public var address: String
        public var mac: String
        public init(folder: String, address: String, mac: String) {
            self.folder = folder
            self.address = address
            self.mac = mac
        }
    }
    public struct Region: Sendable, Codable, Equatable {
        public var name: String
        public var sizeKiB: Int
        public var path: String
        public var guests: [String]
        public init(name: String, sizeKiB: Int, path: String, guests: [String]) {
            self.name = name
            self.sizeKiB = sizeKiB
            self.path = path
            self.guests = guests
        }
    }
    public struct Event: Sendable, Codable, Equatable {
        public var name: String
        public var guests: [String]
        public var count: UInt64
        /// The events table holding it (events that list the same guests share one), from 1.
        public var table: Int
        /// That table's doorbells for host programs (root's): what `hv_events_join` connects to.
        public var hostSocket: String
        public init(name: String, guests: [String], count: UInt64, table: Int, hostSocket: String) {
            self.name = name
            self.guests = guests
            self.count = count
            self.table = table
            self.hostSocket = hostSocket
        }
    }
    public var subnet: String
    public var hostAddress: String
    public var mode: String
    public var bridgeInterface: String?
    public var hostAttached: Bool
    /// The network namespace the host's interface lives in (`ip netns exec NAME …`).
    public var namespace: String
    public var members: [Member]
    public var regions: [Region]
    public var events: [Event]
    public init(
        subnet: String, hostAddress: String, mode: String, bridgeInterface: String?, hostAttached: Bool, namespace: String,
        members: [Member], regions: [Region], events: [Event]
    ) {
        self.subnet = subnet
        self.hostAddress = hostAddress
        self.mode = mode
        self.bridgeInterface = bridgeInterface
        self.hostAttached = hostAttached
        self.namespace = namespace
        self.members = members
        self.regions = regions
        self.events = events
    }
}

public struct EventRequest: Sendable, Codable {
    public var timeoutSeconds: Double?
    /// wait: return once the counter is above this (default: its value when the request arrives).
    public var after: UInt64?
    public init(timeoutSeconds: Double? = nil, after: UInt64? = nil) {
        self.timeoutSeconds = timeoutSeconds
        self.after = after
    }
}

public struct EventResult: Sendable, Codable, Equatable {
    public var name: String
    public var count: UInt64
    public init(name: String, count: UInt64) {
        self.name = name
        self.count = count
    }
}
