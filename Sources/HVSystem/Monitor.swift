import Foundation

/// State that can only be reached under its lock: the value lives inside,
/// and `withLock` / `wait(until:)` are the only ways in. Waiters are woken
/// whenever a `withLock` body returns.
public final class Monitor<State>: @unchecked Sendable {
    private let cond = NSCondition()
    private var state: State

    public init(_ state: State) { self.state = state }

    @discardableResult
    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        cond.lock()
        defer {
            cond.broadcast()
            cond.unlock()
        }
        return try body(&state)
    }

    /// Waits until `ready` holds or `deadline` passes, then runs `body` under
    /// the lock either way (it can tell from the state which it was).
    public func wait<R>(until deadline: Date, for ready: (State) -> Bool, then body: (inout State) throws -> R) rethrows -> R {
        cond.lock()
        defer { cond.unlock() }
        while !ready(state) && cond.wait(until: deadline) {}
        return try body(&state)
    }
}
