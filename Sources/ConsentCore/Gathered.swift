import Synchronization

/// Answers of concurrent work, gathered until ``finish()`` — called when the work is done or when a
/// deadline passes, whichever comes first. Answers set after that are ignored.
final class Gathered<Value: Sendable>: Sendable {
    private struct State: Sendable {
        var values: [Value?]
        var finished = false
        var waiter: CheckedContinuation<[Value?], Never>?
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(values: Array(repeating: nil, count: count)))
    }

    /// Whether gathering has finished (the work is done, or its deadline passed).
    var isFinished: Bool { state.withLock { $0.finished } }

    /// Records answer `index`, unless gathering has finished.
    func set(_ index: Int, _ value: Value) {
        state.withLock { state in
            if !state.finished { state.values[index] = value }
        }
    }

    /// Ends gathering and wakes the waiter with the answers so far; later calls do nothing.
    func finish() {
        let (waiter, values) = state.withLock { state -> (CheckedContinuation<[Value?], Never>?, [Value?]) in
            guard !state.finished else { return (nil, []) }
            state.finished = true
            defer { state.waiter = nil }
            return (state.waiter, state.values)
        }
        waiter?.resume(returning: values)
    }

    /// The answers once gathering has finished (`nil` where none came in time).
    func wait() async -> [Value?] {
        await withCheckedContinuation { continuation in
            let values = state.withLock { state -> [Value?]? in
                guard state.finished else {
                    state.waiter = continuation
                    return nil
                }
                return state.values
            }
            if let values { continuation.resume(returning: values) }
        }
    }
}
