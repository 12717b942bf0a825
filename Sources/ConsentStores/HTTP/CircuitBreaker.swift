/// A circuit breaker as a value-type state machine: it never reads a clock (every call takes `now`)
/// and performs no I/O; ``HTTPConsentStore`` drives it from behind a mutex.
///
/// ```
/// closed ──failureThreshold failures in a row──▶ open ──openDuration elapsed, next call──▶ half-open
///   ▲                                             ▲                                          │
///   └───────────────── the probe succeeds ────────┼──────────── the probe fails ◀────────────┘
/// ```
///
/// Closed, every call proceeds; a success resets the count. Open, every call is rejected (the store
/// answers `circuit_open`, which the resolver treats as unavailable, never as an unknown subject).
/// Half-open, exactly one call proceeds as the probe while the others are still rejected; only the
/// probe's outcome decides. Outcomes of calls that began before the breaker opened change nothing.
public struct CircuitBreaker: Sendable, Hashable {
    /// `store.http.breaker.*`.
    public struct Configuration: Sendable, Hashable {
        /// Consecutive failures that open the breaker.
        public var failureThreshold: Int
        /// How long it stays open before a probe is let through.
        public var openDuration: Duration

        public init(failureThreshold: Int = 5, openDuration: Duration = .seconds(10)) {
            self.failureThreshold = failureThreshold
            self.openDuration = openDuration
        }
    }

    public enum State: Sendable, Hashable {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen
    }

    /// What a caller may do.
    public enum Decision: Sendable, Hashable {
        /// Make the call; report its outcome with `probe: false`.
        case proceed
        /// Make the call as the half-open probe; report its outcome with `probe: true`.
        case probe
        /// Do not call; the breaker is open (or probing) for about this long.
        case reject(retryAfter: Duration)
    }

    /// A change of state worth logging.
    public enum Transition: Sendable, Hashable {
        case none
        case opened
        case closed
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed(consecutiveFailures: 0)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Asks to make a call now.
    public mutating func decide(now: ContinuousClock.Instant) -> Decision {
        switch state {
        case .closed:
            return .proceed
        case .open(let until):
            guard now >= until else { return .reject(retryAfter: now.duration(to: until)) }
            state = .halfOpen
            return .probe
        case .halfOpen:
            return .reject(retryAfter: configuration.openDuration)
        }
    }

    /// The call succeeded (the service answered, even "unknown subject").
    public mutating func succeeded(probe: Bool, now: ContinuousClock.Instant) -> Transition {
        switch state {
        case .closed:
            state = .closed(consecutiveFailures: 0)
            return .none
        case .halfOpen where probe:
            state = .closed(consecutiveFailures: 0)
            return .closed
        case .open, .halfOpen:
            return .none
        }
    }

    /// The call failed (no answer in time, a transport error, a 5xx, an unreadable answer).
    public mutating func failed(probe: Bool, now: ContinuousClock.Instant) -> Transition {
        switch state {
        case .closed(let failures):
            if failures + 1 >= max(configuration.failureThreshold, 1) {
                state = .open(until: now.advanced(by: configuration.openDuration))
                return .opened
            }
            state = .closed(consecutiveFailures: failures + 1)
            return .none
        case .halfOpen where probe:
            state = .open(until: now.advanced(by: configuration.openDuration))
            return .opened
        case .open, .halfOpen:
            return .none
        }
    }

    /// The call was given up before it reached the service (e.g. it waited too long for a slot of the
    /// concurrency bound): it says nothing about the service. An abandoned probe lets the next call probe.
    public mutating func abandoned(probe: Bool, now: ContinuousClock.Instant) {
        if probe, case .halfOpen = state {
            state = .open(until: now)
        }
    }
}
