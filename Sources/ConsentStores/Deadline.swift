import ConsentCore
import Synchronization

/// Runs `operation` in a task of its own and answers its result, or throws
/// ``ConsentStoreError/Code/timeout`` once `timeout` has passed.
///
/// The caller never waits past the deadline, even for an operation that ignores cancellation (a query
/// in flight on a half-dead TCP connection, a connection pool waiting out its own backoff): the
/// operation is cancelled and left to finish on its own. A cancelled caller gets
/// ``ConsentStoreError/Code/unavailable`` at once.
func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ operationName: String,
    _ operation: @escaping @Sendable () async throws(ConsentStoreError) -> T
) async throws(ConsentStoreError) -> T {
    let race = DeadlineRace<T>()
    let work = Task {
        let result: Result<T, ConsentStoreError>
        do throws(ConsentStoreError) {
            result = .success(try await operation())
        } catch {
            result = .failure(error)
        }
        race.finish(result)
    }
    let timer = Task {
        // Cancelled when the work ends first; finishing a decided race changes nothing.
        try? await Task.sleep(for: timeout)
        race.finish(.failure(ConsentStoreError(.timeout, "\(operationName): no answer within \(timeout)")))
    }
    let result = await withTaskCancellationHandler {
        await race.outcome()
    } onCancel: {
        race.finish(.failure(ConsentStoreError(.unavailable, "\(operationName): cancelled")))
    }
    work.cancel()
    timer.cancel()
    return try result.get()
}

/// The first of several results, handed to one waiter.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, ConsentStoreError>?
        var waiter: CheckedContinuation<Result<T, ConsentStoreError>, Never>?
    }

    private let state = Mutex(State())

    func finish(_ result: Result<T, ConsentStoreError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<T, ConsentStoreError>, Never>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
    }

    func outcome() async -> Result<T, ConsentStoreError> {
        await withCheckedContinuation { continuation in
            let decided = state.withLock { state -> Result<T, ConsentStoreError>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let decided { continuation.resume(returning: decided) }
        }
    }
}
