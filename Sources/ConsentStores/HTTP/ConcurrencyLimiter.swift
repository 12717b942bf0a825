import Synchronization

/// A counting semaphore for async code: at most `limit` holders at once, the others wait first come,
/// first served. A waiting task that is cancelled stops waiting and throws `CancellationError`.
///
/// Bounds the HTTP store's requests in flight (`store.http.max_concurrent`), so that a burst of cache
/// misses cannot swamp the customer's consent service.
final class ConcurrencyLimiter: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var available: Int
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(limit: Int) {
        precondition(limit >= 1, "a concurrency limit is at least 1")
        state = Mutex(State(available: limit))
    }

    /// Takes a slot, waiting for one if none is free; every success is paired with ``release()``.
    func acquire() async throws {
        let id = state.withLock { state -> UInt64? in
            if state.available > 0, state.waiters.isEmpty {
                state.available -= 1
                return nil
            }
            defer { state.nextID &+= 1 }
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    // Cancelled before the continuation existed: the handler found nothing to remove.
                    if Task.isCancelled { return true }
                    if state.available > 0, state.waiters.isEmpty {
                        state.available -= 1
                        continuation.resume()
                        return false
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Gives a slot back: to the longest waiter, if any.
    func release() {
        let next = state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.continuation.resume()
    }
}
