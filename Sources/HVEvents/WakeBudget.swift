import Foundation
import HVCore

/// hvd's wake-ups by guests' doorbells, bounded without delaying any: up to
/// `perWindow` in a millisecond pass at once; past that the loop sleeps out
/// the millisecond (a guest ringing without pause gets ~10,000 a second).
struct WakeBudget {
    static let perWindow = 10
    static let window: UInt64 = 1_000_000
    private let now: () -> UInt64
    private let sleep: (UInt64) -> Void
    private var windowStart: UInt64
    private var spent = 0

    /// Clock and sleep in nanoseconds (the monotonic clock and usleep unless a test says otherwise).
    init(
        now: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
        sleep: @escaping (UInt64) -> Void = { usleep(useconds_t($0 / 1000)) }
    ) {
        self.now = now
        self.sleep = sleep
        windowStart = now()
    }

    /// One wake-up; true when it had to sleep first.
    @discardableResult
    mutating func spend() -> Bool {
        let t = now()
        if t &- windowStart >= Self.window {
            windowStart = t
            spent = 0
        }
        spent += 1
        guard spent > Self.perWindow else { return false }
        sleep(Self.window - (t &- windowStart))
        windowStart = now()
        spent = 0
        return true
    }
}
