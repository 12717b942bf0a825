import Logging
import ServiceLifecycle

/// Runs a service in a task until ``stop()`` shuts it down gracefully.
///
/// Graceful rather than cancelled: cancelling a Hummingbird server mid-connection logs errors
/// ("Waiting on child channel: CancellationError") that would spoil the demo's output.
final class BackgroundService: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    init(_ service: some Service, logger: Logger) {
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        self.task = Task { try await group.run() }
    }

    /// Shuts the service down gracefully and waits for it; throws what the service threw.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// A closure as a service.
struct ClosureService: Service {
    let body: @Sendable () async throws -> Void

    func run() async throws {
        try await body()
    }
}
