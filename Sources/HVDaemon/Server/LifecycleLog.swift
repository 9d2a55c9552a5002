import Foundation
import HVAPI
import HVCore

/// The last lifecycle events in hvd (bounded), for `hv events` and the log.
/// Every event is also a line in hvd's log (the journal under systemd).
final class LifecycleLog: Sendable {
    static let kept = 512
    private struct State {
        var events: [LifecycleEvent] = []
        var next = 1
        var counts: [String: [LifecycleEvent.Kind: Int]] = [:]
    }
    private let monitor = Monitor(State())
    private let log: Logger
    /// This hvd: its pid and start time (a new hvd numbers from 1 again).
    let daemon = "\(getpid())@\(Timestamp.iso8601())"

    init(log: Logger) { self.log = log }

    func post(_ kind: LifecycleEvent.Kind, guest: String? = nil, _ detail: String) {
        let line = (guest.map { "\($0): " } ?? "") + "\(kind.rawValue): \(detail)"
        switch kind {
        case .crashed, .stalled, .restartLimit, .watchdog, .heartbeatMissed, .paused: log.warning(line)
        case .recordDamaged: log.error(line)
        default: log.info(line)
        }
        monitor.withLock { s in
            s.events.append(
                LifecycleEvent(
                    seq: s.next, time: Timestamp.iso8601(),
                    kind: kind, guest: guest, detail: detail))
            s.next += 1
            if let guest { s.counts[guest, default: [:]][kind, default: 0] += 1 }
            if s.events.count > Self.kept { s.events.removeFirst(s.events.count - Self.kept) }
        }
    }

    /// Events per guest and kind since this hvd started (for the metrics; never trimmed).
    var counts: [String: [LifecycleEvent.Kind: Int]] { monitor.withLock { $0.counts } }

    /// The events after `seq`, waiting up to `wait` seconds for the first.
    func after(_ seq: Int, wait: Double) -> LifecycleEvents {
        let events = monitor.wait(until: Date().addingTimeInterval(wait), for: { ($0.events.last?.seq ?? 0) > seq }) { s in
            s.events.filter { $0.seq > seq }
        }
        return LifecycleEvents(daemon: daemon, events: events)
    }
}
