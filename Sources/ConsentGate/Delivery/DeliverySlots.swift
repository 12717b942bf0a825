import Synchronization

/// The deliverer's batches in flight (at most `delivery.max_in_flight`: one per worker) and its stop switch.
///
/// A worker ``take()``s a slot for each record the log hands it and ``release()``s it when that delivery
/// ends. ``stop()`` refuses later takes (a record handed out then stays in the log for the next start)
/// and ends every backoff wait at once; ``waitUntilIdle()`` then returns when the attempts already on the
/// wire have finished.
final class DeliverySlots: Sendable {
    private struct State {
        var inFlight = 0
        var stopped = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var isStopped: Bool { state.withLock { $0.stopped } }
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Takes a slot for a record just handed out; `false` once stopped (leave the record for restart).
    func take() -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.inFlight += 1
            return true
        }
    }

    /// A delivery ended (delivered, dead-lettered, or left for restart).
    func release() {
        let idleWaiters = state.withLock { state in
            state.inFlight -= 1
            var idle: [CheckedContinuation<Void, Never>] = []
            if state.inFlight == 0 { swap(&idle, &state.idleWaiters) }
            return idle
        }
        for waiter in idleWaiters { waiter.resume() }
    }

    /// Refuses later takes; backoff waits end at their next check.
    func stop() {
        state.withLock { $0.stopped = true }
    }

    /// Returns when no delivery is in flight.
    func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                if state.inFlight == 0 { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Waits `delay` between attempts; `false` when ``stop()`` came first (the batch is then left in the
    /// log for the next start). Checks the switch every quarter second: a backoff is seconds long, and a
    /// few wake-ups per second for each of at most `max_in_flight` batches cost nothing.
    func pause(_ delay: Duration) async -> Bool {
        let deadline = ContinuousClock.now + delay
        while !isStopped {
            let left = deadline - .now
            if left <= .zero { return true }
            do {
                try await Task.sleep(for: min(left, .milliseconds(250)))
            } catch {
                return false
            }
        }
        return false
    }
}
