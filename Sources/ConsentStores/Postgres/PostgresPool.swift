import Logging
internal import PostgresNIO
import Synchronization

/// postgres-nio's connection pool (`PostgresClient`) with its run task, replaced by a fresh one when it
/// has been failing and the server is known to be back.
///
/// After a long outage the pool waits up to a minute between attempts to reconnect (its own backoff,
/// not configurable), so a replica would stay unavailable long after the database returned. The
/// invalidation listener reconnects within its much shorter backoff; when it does, and the pool's last
/// operation failed, ``refreshIfFailing()`` swaps in a new pool. Operations still running on the old
/// one fail, as they were failing anyway.
final class PostgresPool: Sendable {
    private struct Generation: Sendable {
        let client: PostgresClient
        let task: Task<Void, Never>
    }

    private struct State: Sendable {
        var current: Generation
        var failing = false
        var isShutDown = false
    }

    private let configuration: PostgresClient.Configuration
    private let logger: Logger
    private let state: Mutex<State>

    init(configuration: PostgresClient.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.state = Mutex(State(current: Self.start(configuration, logger: logger)))
    }

    /// The pool to use for the next operation.
    var client: PostgresClient {
        state.withLock { $0.current.client }
    }

    /// Records the outcome of an operation: whether PostgreSQL could not be reached or did not answer.
    func record(failed: Bool) {
        state.withLock { $0.failing = failed }
    }

    /// Replaces the pool if its last operation failed (the caller knows the server is reachable again).
    func refreshIfFailing() {
        let old = state.withLock { state -> Generation? in
            guard state.failing, !state.isShutDown else { return nil }
            let old = state.current
            state.current = Self.start(configuration, logger: logger)
            state.failing = false
            return old
        }
        guard let old else { return }
        logger.info("replaced the PostgreSQL connection pool after an outage")
        old.task.cancel()
    }

    /// Stops the pool (its connections close) and waits until it has stopped.
    func shutdown() async {
        let current = state.withLock { state -> Generation? in
            guard !state.isShutDown else { return nil }
            state.isShutDown = true
            return state.current
        }
        guard let current else { return }
        current.task.cancel()
        await current.task.value
    }

    private static func start(_ configuration: PostgresClient.Configuration, logger: Logger) -> Generation {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger.atLeast(.warning))
        // Cancelling the run task closes the pool.
        let task = Task { await client.run() }
        return Generation(client: client, task: task)
    }
}

extension Logger {
    /// This logger, with its level raised to at least `level` (for a chatty library).
    func atLeast(_ level: Logger.Level) -> Logger {
        var logger = self
        logger.logLevel = Swift.max(logger.logLevel, level)
        return logger
    }
}
