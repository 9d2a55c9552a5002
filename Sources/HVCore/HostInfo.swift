import Foundation

/// The host as the System Manager draws it.
public struct HostInfo: Sendable, Codable, Equatable {
    public var cpuCount: Int
    public var memoryMiB: Int
    /// RemainingHostMemoryMiB of hv.config.
    public var reserveMiB: Int
    public init(cpuCount: Int, memoryMiB: Int, reserveMiB: Int) {
        self.cpuCount = cpuCount
        self.memoryMiB = memoryMiB
        self.reserveMiB = reserveMiB
    }
}
