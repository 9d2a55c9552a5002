import Foundation

/// Several events tables served as one: hvd's servers, one per set of
/// guests (`CommunicationConfig.EventSet`), or a host session's peers, one
/// per set. Each name is in exactly one table (names are unique in
/// hv.config), so an index here is a table and an index in it.
public struct EventSets: EventServing {
    public let parts: [any EventServing]
    public let eventNames: [String]
    private let places: [(part: Int, index: Int)]

    public init(_ parts: [any EventServing]) {
        self.parts = parts
        var names: [String] = [], places: [(Int, Int)] = []
        for (p, part) in parts.enumerated() {
            for (i, name) in part.eventNames.enumerated() where !names.contains(name) {
                names.append(name)
                places.append((p, i))
            }
        }
        eventNames = names
        self.places = places
    }

    public func signal(_ index: Int) -> UInt64 {
        let (p, i) = places[index]
        return parts[p].signal(i)
    }

    public func wait(_ index: Int, after seen: UInt64, timeout: Double) -> UInt64? {
        let (p, i) = places[index]
        return parts[p].wait(i, after: seen, timeout: timeout)
    }

    public func counter(_ index: Int) -> UInt64 {
        let (p, i) = places[index]
        return parts[p].counter(i)
    }

    /// The counter of the event with this name (nil: no such event).
    public func counter(named name: String) -> UInt64? { eventNames.firstIndex(of: name).map(counter) }
}
