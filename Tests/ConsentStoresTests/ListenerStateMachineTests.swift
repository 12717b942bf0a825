import ConsentStores
import Testing

/// The listener's reconnect logic, without I/O or clocks: every (state × event) pair in one table,
/// then the backoff's arithmetic along longer paths.
@Suite struct ListenerStateMachineTests {
    let t0 = ContinuousClock.now
    let backoff = ReconnectBackoff(
        initial: .milliseconds(100), maximum: .seconds(2), multiplier: 2, jitter: 0, stableAfter: .seconds(10))

    // MARK: Every transition

    /// A state the machine can be in, reached through its public events only.
    enum From: String, CaseIterable, Sendable {
        case idle, connecting, listening, waiting, stopped
    }

    /// An event, each at `origin + 1 s` with a draw of 0.5.
    enum Event: String, CaseIterable, Sendable {
        case start, listening, failed, waited, stop
    }

    /// One row of the table: from a state, an event, the state it leads to and the actions it answers.
    struct Row: Sendable, CustomTestStringConvertible {
        var from: From
        var event: Event
        var to: ListenerStateMachine.State
        var actions: [ListenerStateMachine.Action]

        var testDescription: String { "\(from.rawValue) × \(event.rawValue)" }
    }

    static let origin = ContinuousClock.now
    static let backoffForTable = ReconnectBackoff(
        initial: .milliseconds(100), maximum: .seconds(2), multiplier: 2, jitter: 0, stableAfter: .seconds(10))

    /// The machine in `state`, after one failure where the path allows it (so a count that is reset,
    /// or carried on, shows). Listening began at `origin`.
    static func machine(in state: From) -> ListenerStateMachine {
        var machine = ListenerStateMachine(backoff: backoffForTable)
        switch state {
        case .idle:
            break
        case .connecting:
            _ = machine.start()
            _ = machine.failed(now: origin, random: 0.5)
            _ = machine.waited()
        case .listening:
            _ = machine.start()
            _ = machine.failed(now: origin, random: 0.5)
            _ = machine.waited()
            _ = machine.listening(now: origin)
        case .waiting:
            _ = machine.start()
            _ = machine.failed(now: origin, random: 0.5)
        case .stopped:
            _ = machine.start()
            machine.stop()
        }
        return machine
    }

    /// The state `machine(in:)` leaves the machine in; exhaustive over the machine's states, so a new
    /// state does not compile until it has rows.
    static func expected(_ state: From) -> ListenerStateMachine.State {
        switch state {
        case .idle: .idle
        case .connecting: .connecting(failures: 1)
        case .listening: .listening(since: origin, failures: 1)
        case .waiting: .waiting(failures: 1)
        case .stopped: .stopped
        }
    }

    static func from(_ state: ListenerStateMachine.State) -> From {
        switch state {
        case .idle: .idle
        case .connecting: .connecting
        case .listening: .listening
        case .waiting: .waiting
        case .stopped: .stopped
        }
    }

    static let table: [Row] = {
        let t1 = origin + .seconds(1)
        /// A second failure in a row: 200 ms (jitter 0).
        let failAgain: [ListenerStateMachine.Action] = [.markAllStale, .wait(.milliseconds(200))]
        return [
            Row(from: .idle, event: .start, to: .connecting(failures: 0), actions: [.connect]),
            Row(from: .idle, event: .listening, to: .idle, actions: []),
            Row(from: .idle, event: .failed, to: .idle, actions: []),
            Row(from: .idle, event: .waited, to: .idle, actions: []),
            Row(from: .idle, event: .stop, to: .stopped, actions: []),

            Row(from: .connecting, event: .start, to: .connecting(failures: 1), actions: []),
            Row(from: .connecting, event: .listening, to: .listening(since: t1, failures: 1), actions: [.markAllStale]),
            Row(from: .connecting, event: .failed, to: .waiting(failures: 2), actions: failAgain),
            Row(from: .connecting, event: .waited, to: .connecting(failures: 1), actions: []),
            Row(from: .connecting, event: .stop, to: .stopped, actions: []),

            Row(from: .listening, event: .start, to: .listening(since: origin, failures: 1), actions: []),
            Row(from: .listening, event: .listening, to: .listening(since: origin, failures: 1), actions: []),
            // Lost after 1 s, short of `stableAfter`: the count goes on.
            Row(from: .listening, event: .failed, to: .waiting(failures: 2), actions: failAgain),
            Row(from: .listening, event: .waited, to: .listening(since: origin, failures: 1), actions: []),
            Row(from: .listening, event: .stop, to: .stopped, actions: []),

            Row(from: .waiting, event: .start, to: .waiting(failures: 1), actions: []),
            Row(from: .waiting, event: .listening, to: .waiting(failures: 1), actions: []),
            // A late report of a loss already counted changes nothing: one wait per loss.
            Row(from: .waiting, event: .failed, to: .waiting(failures: 1), actions: []),
            Row(from: .waiting, event: .waited, to: .connecting(failures: 1), actions: [.connect]),
            Row(from: .waiting, event: .stop, to: .stopped, actions: []),

            Row(from: .stopped, event: .start, to: .stopped, actions: []),
            Row(from: .stopped, event: .listening, to: .stopped, actions: []),
            Row(from: .stopped, event: .failed, to: .stopped, actions: []),
            Row(from: .stopped, event: .waited, to: .stopped, actions: []),
            Row(from: .stopped, event: .stop, to: .stopped, actions: []),
        ]
    }()

    @Test func theTableHasOneRowForEveryStateAndEvent() {
        let pairs = Self.table.map { "\($0.from.rawValue) × \($0.event.rawValue)" }
        #expect(Set(pairs).count == pairs.count)
        #expect(pairs.count == From.allCases.count * Event.allCases.count)
        for state in From.allCases {
            #expect(Self.machine(in: state).state == Self.expected(state), "the path to \(state.rawValue)")
            #expect(Self.from(Self.expected(state)) == state)
        }
    }

    @Test(arguments: table)
    func transition(_ row: Row) {
        var machine = Self.machine(in: row.from)
        let now = Self.origin + .seconds(1)
        let actions: [ListenerStateMachine.Action]
        switch row.event {
        case .start: actions = machine.start()
        case .listening: actions = machine.listening(now: now)
        case .failed: actions = machine.failed(now: now, random: 0.5)
        case .waited: actions = machine.waited()
        case .stop:
            machine.stop()
            actions = []
        }
        #expect(machine.state == row.to)
        #expect(actions == row.actions)
        #expect(machine.isListening == (Self.from(row.to) == .listening))
    }

    // MARK: Paths

    @Test func listensThenMarksEverythingStale() {
        var machine = ListenerStateMachine(backoff: backoff)
        #expect(machine.start() == [.connect])
        #expect(machine.start() == [])
        #expect(!machine.isListening)
        #expect(machine.listening(now: t0) == [.markAllStale])
        #expect(machine.isListening)
    }

    @Test func failuresBackOffExponentiallyUpToTheMaximum() {
        var machine = ListenerStateMachine(backoff: backoff)
        _ = machine.start()
        var waits: [Duration] = []
        for _ in 0..<7 {
            let actions = machine.failed(now: t0, random: 0.5)
            #expect(actions.first == .markAllStale)
            guard case .wait(let delay)? = actions.last else {
                Issue.record("a failure must wait")
                return
            }
            waits.append(delay)
            #expect(machine.waited() == [.connect])
        }
        #expect(waits == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .seconds(2), .seconds(2)])
    }

    @Test func aStableConnectionStartsTheBackoffOver() {
        var machine = ListenerStateMachine(backoff: backoff)
        _ = machine.start()
        for _ in 0..<3 {
            _ = machine.failed(now: t0, random: 0.5)
            _ = machine.waited()
        }
        _ = machine.listening(now: t0)
        // Lost after 11 s of listening: healthy, so the first wait again.
        #expect(machine.failed(now: t0 + .seconds(11), random: 0.5) == [.markAllStale, .wait(.milliseconds(100))])
    }

    @Test func aFlappingConnectionKeepsBackingOff() {
        var machine = ListenerStateMachine(backoff: backoff)
        _ = machine.start()
        _ = machine.failed(now: t0, random: 0.5)
        _ = machine.waited()
        _ = machine.listening(now: t0)
        // Lost after 1 s: the count goes on (2 failures → 200 ms).
        #expect(machine.failed(now: t0 + .seconds(1), random: 0.5) == [.markAllStale, .wait(.milliseconds(200))])
        _ = machine.waited()
        #expect(machine.listening(now: t0 + .seconds(2)) == [.markAllStale])
    }

    @Test func jitterSpreadsWaitsWithinItsBoundsAndNeverPastTheMaximum() {
        let jittered = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2, jitter: 0.2)
        #expect(jittered.delay(afterFailures: 1, random: 0) == .milliseconds(80))
        #expect(jittered.delay(afterFailures: 1, random: 1) == .milliseconds(120))
        #expect(jittered.delay(afterFailures: 10, random: 1) == .seconds(1))
        #expect(jittered.delay(afterFailures: 10, random: 0) == .milliseconds(800))
        #expect(jittered.delay(afterFailures: 10_000, random: 0.5) == .seconds(1))
    }
}
