import Foundation
import HVCore

public struct CoreChange: Sendable, Codable, Equatable {
    public var folder: String
    /// The cores it gets once the VMF is loaded with the new configuration.
    public var cores: [Int]
    /// Guests whose cores change (a reload of the VMF moves them).
    public var moved: [String]
    /// Of those, the ones running now: they keep their old core until restarted after the reload.
    public var mustRestart: [String]
    public init(folder: String, cores: [Int], moved: [String], mustRestart: [String]) {
        self.folder = folder
        self.cores = cores
        self.moved = moved
        self.mustRestart = mustRestart
    }
}

public struct CoreRequest: Sendable, Codable {
    /// "auto" or core numbers such as "2" or "2,3".
    public var cores: String
    public init(cores: String) { self.cores = cores }
}
