import ConsentStores
import Testing

/// The HTTP store's circuit breaker, without I/O or clocks: every (state × event) pair in one table
/// (late outcomes while open, a probe's outcome reported in closed, abandoned calls), the thresholds
/// at and below 1, then the paths through open and half-open.
@Suite struct CircuitBreakerTests {
    let t0 = ContinuousClock.now
    let configuration = CircuitBreaker.Configuration(failureThreshold: 3, openDuration: .seconds(10))

    // MARK: Every transition

    /// A state the breaker can be in, reached through its public events (threshold 3, open 10 s).
    enum From: String, CaseIterable, Sendable {
        /// No failure yet.
        case closed
        /// One failure short of opening.
        case closedAtTheBrink
        /// Opened at `origin`, until `origin + 10 s`.
        case open
        /// Its probe let through at `origin + 10 s`.
        case halfOpen
    }

    enum Event: Sendable, Hashable, CustomStringConvertible {
        case decide
        case succeeded(probe: Bool)
        case failed(probe: Bool)
        case abandoned(probe: Bool)

        static let all: [Event] = [
            .decide, .succeeded(probe: false), .succeeded(probe: true), .failed(probe: false), .failed(probe: true),
            .abandoned(probe: false), .abandoned(probe: true),
        ]

        var description: String {
            switch self {
            case .decide: "decide"
            case .succeeded(let probe): "succeeded(probe: \(probe))"
            case .failed(let probe): "failed(probe: \(probe))"
            case .abandoned(let probe): "abandoned(probe: \(probe))"
            }
        }
    }

    /// What an event answers: a decision, a transition, or nothing (`abandoned`).
    enum Answer: Sendable, Hashable {
        case decision(CircuitBreaker.Decision)
        case transition(CircuitBreaker.Transition)
        case nothing
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var from: From
        var event: Event
        /// When the event happens, after `origin`.
        var at: Duration
        var to: CircuitBreaker.State
        var answer: Answer

        var testDescription: String { "\(from.rawValue) × \(event) at +\(at)" }
    }

    static let origin = ContinuousClock.now
    static let tableConfiguration = CircuitBreaker.Configuration(failureThreshold: 3, openDuration: .seconds(10))

    static func breaker(in state: From) -> CircuitBreaker {
        var breaker = CircuitBreaker(configuration: tableConfiguration)
        switch state {
        case .closed:
            break
        case .closedAtTheBrink:
            for _ in 0..<2 { _ = breaker.failed(probe: false, now: origin) }
        case .open:
            for _ in 0..<3 { _ = breaker.failed(probe: false, now: origin) }
        case .halfOpen:
            for _ in 0..<3 { _ = breaker.failed(probe: false, now: origin) }
            _ = breaker.decide(now: origin + .seconds(10))
        }
        return breaker
    }

    static let table: [Row] = {
        let o = origin
        let open: CircuitBreaker.State = .open(until: o + .seconds(10))
        let reset: CircuitBreaker.State = .closed(consecutiveFailures: 0)
        let justOpened: CircuitBreaker.State = .open(until: o + .seconds(15))
        return [
            // Closed: calls proceed; a success resets the count, whatever its `probe` says.
            Row(from: .closed, event: .decide, at: .seconds(5), to: reset, answer: .decision(.proceed)),
            Row(from: .closed, event: .succeeded(probe: false), at: .seconds(5), to: reset, answer: .transition(.none)),
            Row(from: .closed, event: .succeeded(probe: true), at: .seconds(5), to: reset, answer: .transition(.none)),
            Row(from: .closed, event: .failed(probe: false), at: .seconds(5), to: .closed(consecutiveFailures: 1), answer: .transition(.none)),
            Row(from: .closed, event: .failed(probe: true), at: .seconds(5), to: .closed(consecutiveFailures: 1), answer: .transition(.none)),
            Row(from: .closed, event: .abandoned(probe: false), at: .seconds(5), to: reset, answer: .nothing),
            Row(from: .closed, event: .abandoned(probe: true), at: .seconds(5), to: reset, answer: .nothing),

            Row(from: .closedAtTheBrink, event: .decide, at: .seconds(5), to: .closed(consecutiveFailures: 2), answer: .decision(.proceed)),
            Row(from: .closedAtTheBrink, event: .succeeded(probe: false), at: .seconds(5), to: reset, answer: .transition(.none)),
            Row(from: .closedAtTheBrink, event: .succeeded(probe: true), at: .seconds(5), to: reset, answer: .transition(.none)),
            Row(from: .closedAtTheBrink, event: .failed(probe: false), at: .seconds(5), to: justOpened, answer: .transition(.opened)),
            Row(from: .closedAtTheBrink, event: .failed(probe: true), at: .seconds(5), to: justOpened, answer: .transition(.opened)),
            // An abandoned call says nothing about the service: the count stays.
            Row(from: .closedAtTheBrink, event: .abandoned(probe: false), at: .seconds(5), to: .closed(consecutiveFailures: 2), answer: .nothing),
            Row(from: .closedAtTheBrink, event: .abandoned(probe: true), at: .seconds(5), to: .closed(consecutiveFailures: 2), answer: .nothing),

            // Open: calls are rejected until the period ends; late outcomes of calls that began before
            // it opened change nothing (a late failure does not extend the period).
            Row(from: .open, event: .decide, at: .seconds(5), to: open, answer: .decision(.reject(retryAfter: .seconds(5)))),
            Row(from: .open, event: .succeeded(probe: false), at: .seconds(5), to: open, answer: .transition(.none)),
            Row(from: .open, event: .succeeded(probe: true), at: .seconds(5), to: open, answer: .transition(.none)),
            Row(from: .open, event: .failed(probe: false), at: .seconds(5), to: open, answer: .transition(.none)),
            Row(from: .open, event: .failed(probe: true), at: .seconds(5), to: open, answer: .transition(.none)),
            Row(from: .open, event: .abandoned(probe: false), at: .seconds(5), to: open, answer: .nothing),
            Row(from: .open, event: .abandoned(probe: true), at: .seconds(5), to: open, answer: .nothing),

            // Half-open: only the probe's outcome decides.
            Row(from: .halfOpen, event: .decide, at: .seconds(12), to: .halfOpen, answer: .decision(.reject(retryAfter: .seconds(10)))),
            Row(from: .halfOpen, event: .succeeded(probe: false), at: .seconds(12), to: .halfOpen, answer: .transition(.none)),
            Row(from: .halfOpen, event: .succeeded(probe: true), at: .seconds(12), to: reset, answer: .transition(.closed)),
            Row(from: .halfOpen, event: .failed(probe: false), at: .seconds(12), to: .halfOpen, answer: .transition(.none)),
            Row(from: .halfOpen, event: .failed(probe: true), at: .seconds(12), to: .open(until: o + .seconds(22)), answer: .transition(.opened)),
            Row(from: .halfOpen, event: .abandoned(probe: false), at: .seconds(12), to: .halfOpen, answer: .nothing),
            // An abandoned probe reopens with the period already over: the next call probes.
            Row(from: .halfOpen, event: .abandoned(probe: true), at: .seconds(12), to: .open(until: o + .seconds(12)), answer: .nothing),
        ]
    }()

    @Test func theTableHasOneRowForEveryStateAndEvent() {
        let pairs = Self.table.map { "\($0.from.rawValue) × \($0.event)" }
        #expect(Set(pairs).count == pairs.count)
        #expect(pairs.count == From.allCases.count * Event.all.count)
    }

    @Test(arguments: table)
    func transition(_ row: Row) {
        var breaker = Self.breaker(in: row.from)
        let now = Self.origin + row.at
        let answer: Answer
        switch row.event {
        case .decide: answer = .decision(breaker.decide(now: now))
        case .succeeded(let probe): answer = .transition(breaker.succeeded(probe: probe, now: now))
        case .failed(let probe): answer = .transition(breaker.failed(probe: probe, now: now))
        case .abandoned(let probe):
            breaker.abandoned(probe: probe, now: now)
            answer = .nothing
        }
        #expect(breaker.state == row.to)
        #expect(answer == row.answer)
    }

    /// The open period ends exactly at its deadline: the first call then is the probe.
    @Test func theOpenPeriodEndsAtItsDeadline() {
        var breaker = Self.breaker(in: .open)
        #expect(breaker.decide(now: Self.origin + .seconds(10) - .nanoseconds(1)) == .reject(retryAfter: .nanoseconds(1)))
        #expect(breaker.decide(now: Self.origin + .seconds(10)) == .probe)
        #expect(breaker.state == .halfOpen)
    }

    /// A threshold of 1, or a nonsensical 0 or negative one, opens on the first failure.
    @Test(arguments: [1, 0, -3])
    func aThresholdOfOneOrLessOpensOnTheFirstFailure(threshold: Int) {
        var breaker = CircuitBreaker(configuration: .init(failureThreshold: threshold, openDuration: .seconds(10)))
        #expect(breaker.decide(now: Self.origin) == .proceed)
        #expect(breaker.failed(probe: false, now: Self.origin) == .opened)
        #expect(breaker.state == .open(until: Self.origin + .seconds(10)))
    }

    // MARK: Paths

    @Test func opensAfterConsecutiveFailuresOnly() {
        var breaker = CircuitBreaker(configuration: configuration)
        #expect(breaker.decide(now: t0) == .proceed)
        #expect(breaker.failed(probe: false, now: t0) == .none)
        #expect(breaker.failed(probe: false, now: t0) == .none)
        // A success in between starts the count over.
        #expect(breaker.succeeded(probe: false, now: t0) == .none)
        #expect(breaker.failed(probe: false, now: t0) == .none)
        #expect(breaker.failed(probe: false, now: t0) == .none)
        #expect(breaker.failed(probe: false, now: t0) == .opened)
        #expect(breaker.state == .open(until: t0 + .seconds(10)))
        #expect(breaker.decide(now: t0 + .seconds(4)) == .reject(retryAfter: .seconds(6)))
    }

    @Test func halfOpenLetsOneProbeThroughAndItsSuccessCloses() {
        var breaker = CircuitBreaker(configuration: configuration)
        for _ in 0..<3 { _ = breaker.failed(probe: false, now: t0) }
        let later = t0 + .seconds(10)
        #expect(breaker.decide(now: later) == .probe)
        #expect(breaker.state == .halfOpen)
        // Others are still rejected while the probe is out.
        #expect(breaker.decide(now: later) == .reject(retryAfter: .seconds(10)))
        // A late outcome of a call from before the breaker opened decides nothing.
        #expect(breaker.succeeded(probe: false, now: later) == .none)
        #expect(breaker.state == .halfOpen)
        #expect(breaker.succeeded(probe: true, now: later) == .closed)
        #expect(breaker.decide(now: later) == .proceed)
    }

    @Test func aFailedProbeReopensForAnotherPeriod() {
        var breaker = CircuitBreaker(configuration: configuration)
        for _ in 0..<3 { _ = breaker.failed(probe: false, now: t0) }
        #expect(breaker.decide(now: t0 + .seconds(12)) == .probe)
        #expect(breaker.failed(probe: false, now: t0 + .seconds(12)) == .none)
        #expect(breaker.failed(probe: true, now: t0 + .seconds(13)) == .opened)
        #expect(breaker.state == .open(until: t0 + .seconds(23)))
        #expect(breaker.decide(now: t0 + .seconds(22)) == .reject(retryAfter: .seconds(1)))
        #expect(breaker.decide(now: t0 + .seconds(23)) == .probe)
    }

    @Test func anAbandonedProbeLetsTheNextCallProbe() {
        var breaker = CircuitBreaker(configuration: configuration)
        for _ in 0..<3 { _ = breaker.failed(probe: false, now: t0) }
        #expect(breaker.decide(now: t0 + .seconds(10)) == .probe)
        breaker.abandoned(probe: true, now: t0 + .seconds(11))
        #expect(breaker.decide(now: t0 + .seconds(11)) == .probe)
    }
}
