import Synchronization

/// Counts operations in flight so that closing waits for them, and refuses new ones once closing.
///
/// sqlite-nio must not be handed a closed connection (its handle is freed), so every operation enters
/// the gate first and ``closeAndDrain()`` closes connections only after the last one has left.
final class OperationGate: Sendable {
    private struct State {
        var isClosed = false
        var inFlight = 0
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Whether the gate is closed (or closing).
    var isClosed: Bool {
        state.withLock { $0.isClosed }
    }

    /// Enters the gate; `false` once it is closed. Every `true` must be paired with ``leave()``.
    func enter() -> Bool {
        state.withLock { state in
            if state.isClosed { return false }
            state.inFlight += 1
            return true
        }
    }

    func leave() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inFlight -= 1
            guard state.isClosed, state.inFlight == 0 else { return [] }
            defer { state.drainWaiters = [] }
            return state.drainWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Closes the gate and waits until no operation is in flight.
    /// - Returns: `true` for the first caller only, who then owns the cleanup.
    func closeAndDrain() async -> Bool {
        let first = state.withLock { state in
            defer { state.isClosed = true }
            return !state.isClosed
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drained = state.withLock { state in
                if state.inFlight == 0 { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if drained { continuation.resume() }
        }
        return first
    }
}
