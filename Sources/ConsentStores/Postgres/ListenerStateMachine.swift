#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How the invalidation listener waits between attempts to reconnect: exponential, capped, jittered.
public struct ReconnectBackoff: Sendable, Hashable {
    /// The wait after the first failure.
    public var initial: Duration
    /// The longest wait.
    public var maximum: Duration
    /// Each further failure multiplies the wait by this.
    public var multiplier: Double
    /// The relative spread of each wait: `w` becomes uniform in `w × [1 − j, 1 + j]` (then capped), so
    /// that replicas cut off together do not all reconnect in the same instant. Clamped to `0...1`.
    public var jitter: Double
    /// A connection that stayed up this long counts as healthy: its loss starts the backoff over.
    /// One that drops sooner keeps counting, so a flapping server is not hammered.
    public var stableAfter: Duration

    public init(
        initial: Duration = .milliseconds(50),
        maximum: Duration = .seconds(2),
        multiplier: Double = 2,
        jitter: Double = 0.2,
        stableAfter: Duration = .seconds(10)
    ) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self.stableAfter = stableAfter
    }

    /// The wait after `failures` consecutive failures (at least 1), for a `random` draw in `0..<1`.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        let exponent = Double(max(failures, 1) - 1)
        let maximumSeconds = Self.seconds(maximum)
        let base = min(Self.seconds(initial) * pow(max(multiplier, 1), min(exponent, 64)), maximumSeconds)
        let spread = min(max(jitter, 0), 1)
        let factor = 1 - spread + 2 * spread * min(max(random, 0), 1)
        return .nanoseconds(Int64((min(base * factor, maximumSeconds) * 1e9).rounded()))
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// The invalidation listener's life as a value-type state machine: it decides, the driver
/// (``PostgresInvalidationListener``) does the I/O and reports back. No clock, no randomness, no I/O:
/// both are passed in.
///
/// ```
/// idle ─start→ connecting ─listening→ listening
///                 ▲    │                  │
///          waited │    └──failed──┐  ┌─failed
///                 │               ▼  ▼
///                 └──────────── waiting
/// ```
///
/// Every failure answers ``Action/markAllStale`` (notifications may be missed from now on) and a
/// wait; every successful `LISTEN` answers ``Action/markAllStale`` again, since what was cached while
/// the listener was down may predate a change it never heard of.
public struct ListenerStateMachine: Sendable {
    public enum State: Sendable, Hashable {
        case idle
        /// Connecting and issuing `LISTEN`; `failures` in a row so far.
        case connecting(failures: Int)
        /// `LISTEN` is in force since `since`; `failures` counted before it (reset once it is stable).
        case listening(since: ContinuousClock.Instant, failures: Int)
        /// Waiting out a backoff after `failures` in a row.
        case waiting(failures: Int)
        case stopped
    }

    /// What the driver must do, in order.
    public enum Action: Sendable, Hashable {
        /// Open a connection and `LISTEN` on the channel.
        case connect
        /// Treat every cached entry as expired.
        case markAllStale
        /// Sleep this long, then report ``ListenerStateMachine/waited()``.
        case wait(Duration)
    }

    public let backoff: ReconnectBackoff
    public private(set) var state: State = .idle

    public init(backoff: ReconnectBackoff = ReconnectBackoff()) {
        self.backoff = backoff
    }

    /// Whether notifications are being received now.
    public var isListening: Bool {
        if case .listening = state { return true }
        return false
    }

    /// Starts the listener.
    public mutating func start() -> [Action] {
        guard case .idle = state else { return [] }
        state = .connecting(failures: 0)
        return [.connect]
    }

    /// The connection is open and `LISTEN` is in force.
    public mutating func listening(now: ContinuousClock.Instant) -> [Action] {
        guard case .connecting(let failures) = state else { return [] }
        state = .listening(since: now, failures: failures)
        return [.markAllStale]
    }

    /// Connecting failed, or the connection was lost (closed, or its heartbeat went unanswered).
    /// - Parameter random: A draw in `0..<1` for the jitter.
    public mutating func failed(now: ContinuousClock.Instant, random: Double) -> [Action] {
        let failures: Int
        switch state {
        case .connecting(let previous):
            failures = previous + 1
        case .listening(let since, let previous):
            failures = since.duration(to: now) >= backoff.stableAfter ? 1 : previous + 1
        case .idle, .waiting, .stopped:
            return []
        }
        state = .waiting(failures: failures)
        return [.markAllStale, .wait(backoff.delay(afterFailures: failures, random: random))]
    }

    /// The backoff is over: try again.
    public mutating func waited() -> [Action] {
        guard case .waiting(let failures) = state else { return [] }
        state = .connecting(failures: failures)
        return [.connect]
    }

    /// Stops for good (the store is closing); later events are ignored.
    public mutating func stop() {
        state = .stopped
    }
}
