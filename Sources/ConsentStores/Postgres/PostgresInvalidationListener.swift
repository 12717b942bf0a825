import ConsentCore
import Logging
internal import PostgresNIO

/// Holds one dedicated connection that `LISTEN`s on the store's channel and turns each notification into
/// a ``ConsentInvalidation``; reconnects by itself, as ``ListenerStateMachine`` decides.
///
/// A lost connection shows up at once when the server closes it (restart, `pg_terminate_backend`);
/// a silent one (a dead network path) within ``Configuration/heartbeatInterval`` plus
/// ``Configuration/heartbeatTimeout``, through a `SELECT 1` on the listening connection.
/// Payloads are subjects; they are never logged.
final class PostgresInvalidationListener: Sendable {
    struct Configuration: Sendable {
        var channel: String
        var backoff: ReconnectBackoff
        var heartbeatInterval: Duration
        var heartbeatTimeout: Duration
    }

    private let connection: PostgresConnection.Configuration
    private let configuration: Configuration
    private let handler: @Sendable (ConsentInvalidation) -> Void
    private let onListening: @Sendable () -> Void
    private let logger: Logger
    /// For postgres-nio itself: it reports every failed connection attempt at `info`.
    private let driverLogger: Logger

    /// - Parameters:
    ///   - onListening: Called each time `LISTEN` is in force (the server is reachable).
    ///   - handler: Receives every invalidation.
    init(
        connection: PostgresConnection.Configuration,
        configuration: Configuration,
        logger: Logger,
        onListening: @escaping @Sendable () -> Void,
        handler: @escaping @Sendable (ConsentInvalidation) -> Void
    ) {
        self.connection = connection
        self.configuration = configuration
        self.logger = logger
        self.driverLogger = logger.atLeast(.warning)
        self.onListening = onListening
        self.handler = handler
    }

    /// Listens until the task is cancelled.
    func run() async {
        var machine = ListenerStateMachine(backoff: configuration.backoff)
        var actions = machine.start()
        var attempts = 0
        // Warn once per outage, not at every attempt to reconnect.
        var isDown = false
        while !Task.isCancelled, !actions.isEmpty {
            var next: [ListenerStateMachine.Action] = []
            for action in actions {
                switch action {
                case .markAllStale:
                    handler(.all)
                case .wait(let delay):
                    try? await Task.sleep(for: delay)
                    next += machine.waited()
                case .connect:
                    attempts += 1
                    let (failure, listened) = await listenOnce(attempt: attempts) { machine.listening(now: .now) }
                    if Task.isCancelled { return }
                    if listened || !isDown {
                        logger.warning(
                            "the PostgreSQL invalidation listener lost its connection; cached consent is treated as stale until it is back",
                            metadata: ["error": "\(failure)"])
                    } else {
                        logger.debug("the PostgreSQL invalidation listener could not reconnect yet", metadata: ["error": "\(failure)"])
                    }
                    isDown = true
                    next += machine.failed(now: .now, random: Double.random(in: 0..<1))
                }
            }
            actions = next
        }
        machine.stop()
    }

    /// Connects, listens and serves notifications until the connection fails; returns why, and whether
    /// `LISTEN` was in force before.
    ///
    /// `established` is called once `LISTEN` is in force; its actions (mark all stale) run right away.
    private func listenOnce(
        attempt: Int,
        established: () -> [ListenerStateMachine.Action]
    ) async -> (ConsentStoreError, listened: Bool) {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: self.connection, id: attempt, logger: driverLogger)
        } catch {
            return (.postgres("listener: connect", error), false)
        }
        defer {
            // Closing is fire-and-forget: the server may already be gone.
            Task { try? await connection.close() }
        }
        var listened = false
        do {
            try await connection.listen(on: configuration.channel) { notifications in
                listened = true
                for action in established() where action == .markAllStale {
                    handler(.all)
                }
                onListening()
                logger.info("listening for consent changes", metadata: ["channel": "\(configuration.channel)"])
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { [handler] in
                        for try await notification in notifications {
                            handler(notification.payload.isEmpty ? .all : .subject(notification.payload))
                        }
                        throw ConsentStoreError(.unavailable, "listener: the notification stream ended")
                    }
                    group.addTask { [configuration] in
                        while true {
                            try await Task.sleep(for: configuration.heartbeatInterval)
                            try await withDeadline(configuration.heartbeatTimeout, "listener: heartbeat") { () throws(ConsentStoreError) in
                                do {
                                    try await connection.query(PostgresQuery(unsafeSQL: "SELECT 1"), logger: connection.logger).drain()
                                } catch {
                                    throw .postgres("listener: heartbeat", error)
                                }
                            }
                        }
                    }
                    // Whichever ends first (it can only throw) ends the connection.
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
            return (ConsentStoreError(.unavailable, "listener: stopped listening"), listened)
        } catch {
            return (.postgres("listener", error), listened)
        }
    }
}
