import Logging
import ServiceLifecycle

/// Runs test servers as production runs the gateway: as services of a `ServiceGroup`, stopped with a
/// graceful shutdown (listeners close, in-flight answers finish), as Hummingbird's `.live` test
/// framework and AHC's `HTTPBin` stop theirs.
///
/// Cancelling the task of a Hummingbird `Application.run()` instead reaches its server twice: the
/// cancellation closes the listening channel, and the nested group reads the same cancellation as a
/// graceful shutdown and then fails to quiesce the closed channel, logging
/// "Server shutdown error: Already closed" at error level (and "Waiting on child channel:
/// CancellationError()" in a TLS server).
struct ServiceRunner: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// Starts `services` (shut down in reverse order); errors are logged to `logger`. A shutdown
    /// waits at most `grace` for work in flight (a sink told to answer late), then cancels it;
    /// `nil` when the service bounds its own shutdown (the gateway's `shutdown.grace_seconds`).
    /// Short graces log the cancellation's errors again on a loaded machine: 1 s did in a full run.
    init(_ services: [any Service], logger: Logger, grace: Duration? = .seconds(5)) {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = grace
        let group = ServiceGroup(configuration: configuration)
        self.group = group
        self.task = Task { try await group.run() }
    }

    /// Shuts the services down gracefully and waits until they have returned.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// What the group's run ended with: after ``stop()``, or when a service failed to start.
    var value: Void {
        get async throws { try await task.value }
    }
}

/// A closure as a service: for a server whose `run` takes arguments (the gateway's `onListening`).
struct ClosureService: Service {
    let body: @Sendable () async throws -> Void

    func run() async throws { try await body() }
}
