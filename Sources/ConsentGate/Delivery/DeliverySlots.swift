import Synchronization

/// The deliverer's bound on batches in flight (`delivery.max_in_flight`) and its stop switch.
///
/// One taker waits for a free slot before it asks the log for the next record, then ``take()``s the slot
/// for it; each delivery ``release()``s its slot when it ends. ``stop()`` refuses later takes (a record
/// handed out then stays in the log for the next start), wakes the taker and ends every backoff wait at
/// once; ``waitUntilIdle()`` then returns when the attempts already on the wire have finished.
final class DeliverySlots: Sendable {
    private struct State {
        var inFlight = 0
        var stopped = false
        var slotWaiter: CheckedContinuation<Void, Never>?
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var isStopped: Bool { state.withLock { $0.stopped } }
    var inFlight: Int { state.withLock { $0.inFlight } }

    /// Returns when a slot is free (or at once after ``stop()``). One caller at a time: the taker.
    func waitForFreeSlot() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.stopped || state.inFlight < limit { return true }
                state.slotWaiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

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
        let (slotWaiter, idleWaiters) = state.withLock { state in
            state.inFlight -= 1
            let slotWaiter = state.slotWaiter
            state.slotWaiter = nil
            var idle: [CheckedContinuation<Void, Never>] = []
            if state.inFlight == 0 { swap(&idle, &state.idleWaiters) }
            return (slotWaiter, idle)
        }
        slotWaiter?.resume()
        for waiter in idleWaiters { waiter.resume() }
    }

    /// Refuses later takes and wakes the taker.
    func stop() {
        let slotWaiter = state.withLock { state in
            state.stopped = true
            defer { state.slotWaiter = nil }
            return state.slotWaiter
        }
        slotWaiter?.resume()
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
