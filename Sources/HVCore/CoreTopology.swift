import Foundation

/// Which logical CPUs share a physical core (SMT siblings, "hyperthreads").
/// An RT guest takes whole physical cores: a sibling left to the host would
/// share the core's caches and execution units with the guest's vCPU.
public struct CoreTopology: Sendable, Equatable, Codable {
    /// Each group is one physical core's logical CPUs, ascending; groups by their first CPU.
    public var groups: [[Int]]

    public init(groups: [[Int]]) {
        self.groups = groups.map { $0.sorted() }.filter { !$0.isEmpty }.sorted { ($0.first ?? 0) < ($1.first ?? 0) }
    }

    /// No SMT: every CPU its own core.
    public static func flat(_ cpus: Int) -> CoreTopology { CoreTopology(groups: (0..<max(1, cpus)).map { [$0] }) }

    /// True when some physical core has more than one logical CPU.
    public var hasSMT: Bool { groups.contains { $0.count > 1 } }

    /// The logical CPUs of `cpu`'s physical core (itself alone when unknown).
    public func siblings(of cpu: Int) -> [Int] { groups.first { $0.contains(cpu) } ?? [cpu] }

    /// "0,4 1,5 2,6 3,7": the layout in the kernel's notation, a core a word.
    public var description: String {
        groups.map { $0.map(String.init).joined(separator: ",") }.joined(separator: " ")
    }
}
