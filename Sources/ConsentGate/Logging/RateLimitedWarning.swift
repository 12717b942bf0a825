import Logging
import Synchronization

/// A warning that is logged at most once per interval, so an outage cannot flood the log; the next
/// line says how many were suppressed in between.
final class RateLimitedWarning: Sendable {
    private let logger: Logger
    private let message: Logger.Message
    private let interval: Duration
    private let state = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

    init(_ message: Logger.Message, logger: Logger, interval: Duration = .seconds(10)) {
        self.message = message
        self.logger = logger
        self.interval = interval
    }

    func emit(_ metadata: @autoclosure () -> Logger.Metadata) {
        let now = ContinuousClock.now
        let suppressed: Int? = state.withLock { state in
            if let last = state.last, now - last < interval {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        var all = metadata()
        if suppressed > 0 { all["suppressed"] = "\(suppressed)" }
        logger.warning(message, metadata: all)
    }
}
