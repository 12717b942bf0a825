import ConsentStores
import Testing

/// The listener's reconnect logic and the HTTP store's circuit breaker, without I/O or clocks.
@Suite struct ListenerStateMachineTests {
    let t0 = ContinuousClock.now
    let backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(2), multiplier: 2, jitter: 0, stableAfter: .seconds(10))

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

    @Test func eventsOutOfOrderOrAfterStopDoNothing() {
        var machine = ListenerStateMachine(backoff: backoff)
        #expect(machine.waited() == [])
        #expect(machine.listening(now: t0) == [])
        #expect(machine.failed(now: t0, random: 0) == [])
        _ = machine.start()
        machine.stop()
        #expect(machine.listening(now: t0) == [])
        #expect(machine.failed(now: t0, random: 0) == [])
        #expect(machine.state == .stopped)
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

@Suite struct CircuitBreakerTests {
    let t0 = ContinuousClock.now
    let configuration = CircuitBreaker.Configuration(failureThreshold: 3, openDuration: .seconds(10))

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
