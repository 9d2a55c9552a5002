import Foundation
import HVCore

/// Peer ids. A QEMU that saw a peer leave has freed that peer's state and
/// crashes when the same id joins again (QEMU 7.2), so ids grow, and once
/// they reach `maxID` a departed id is taken again only when every peer now
/// connected joined after it left (no running QEMU has ever heard of it).
/// (Host programs sit on seats and use no id of their own.)
struct PeerIDs {
    let maxID: Int64
    private var next: Int64
    private var clock: UInt64 = 0
    /// Connected peers → when they joined; departed ids → when they left.
    private var joined: [Int64: UInt64] = [:]
    private var departed: [(id: Int64, at: UInt64)] = []

    init(first: Int64 = 1, maxID: Int64) {
        next = first
        self.maxID = maxID
    }

    mutating func take() -> Int64? {
        clock += 1
        let id: Int64
        if next <= maxID {
            id = next
            next += 1
        } else {
            let oldest = joined.values.min() ?? .max
            guard let i = departed.firstIndex(where: { $0.at < oldest }) else { return nil }
            id = departed.remove(at: i).id
        }
        joined[id] = clock
        return id
    }

    mutating func give(back id: Int64) {
        guard joined.removeValue(forKey: id) != nil else { return }
        clock += 1
        departed.append((id, clock))
    }
}
