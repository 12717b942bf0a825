@testable import ConsentGate
import NIOCore
import Testing

/// The upstream pool's decisions, without sockets or clocks: leasing, limits, failures, the stale
/// connection retry, deadlines, the idle sweep and shutdown.
@Suite struct UpstreamPoolStateMachineTests {
    typealias Machine = UpstreamPoolStateMachine
    typealias C = Machine.ConnectionID
    typealias R = Machine.RequestID

    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let closed = UpstreamClientError(.connectionClosed)

    func c(_ n: Int) -> C { C(rawValue: n) }
    func r(_ n: Int) -> R { R(n) }

    /// A machine whose first connection is made and idle.
    func withOneIdleConnection(limit: Int = 2) -> Machine {
        var machine = Machine(limit: limit, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.connectionMade(c(0), now: t0)
        _ = machine.exchangeSucceeded(c(0), reusable: true, now: t0)
        return machine
    }

    /// A machine with two connections made, c(0) parked at `first` and c(1) at `second`.
    func withTwoIdleConnections(parkedAt first: NIODeadline, _ second: NIODeadline) -> Machine {
        var machine = Machine(limit: 2, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.request(r(1))
        _ = machine.connectionMade(c(0), now: t0)
        _ = machine.connectionMade(c(1), now: t0)
        _ = machine.exchangeSucceeded(c(0), reusable: true, now: first)
        _ = machine.exchangeSucceeded(c(1), reusable: true, now: second)
        return machine
    }

    @Test func aFirstRequestOpensAConnectionAndRunsOnIt() {
        var machine = Machine(limit: 2, idleTimeout: .seconds(60))
        #expect(machine.request(r(0)) == .init(request: .none, connection: .create(c(0))))
        #expect(machine.waitingCount == 1)
        #expect(machine.connectionMade(c(0), now: t0) == .init(request: .execute(r(0), on: c(0)), connection: .none))
        #expect(machine.waitingCount == 0)
    }

    @Test func aKeptAliveConnectionParksThenServesTheNextRequest() {
        var machine = Machine(limit: 2, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.connectionMade(c(0), now: t0)
        // The first park schedules the idle sweep; later parks do not schedule another.
        #expect(machine.exchangeSucceeded(c(0), reusable: true, now: t0) == .init(request: .none, connection: .scheduleIdleSweep(t0 + .seconds(60))))
        #expect(machine.request(r(1)) == .init(request: .execute(r(1), on: c(0)), connection: .none))
        #expect(machine.exchangeSucceeded(c(0), reusable: true, now: t0) == .none)
        #expect(machine.connectionCount == 1 && machine.idleCount == 1)
    }

    @Test func theMostRecentlyParkedConnectionIsReusedFirst() {
        var machine = withTwoIdleConnections(parkedAt: t0, t0 + .seconds(1))
        #expect(machine.request(r(2)).request == .execute(r(2), on: c(1)))
    }

    @Test func beyondTheLimitRequestsWaitForAConnectionToComeBack() {
        var machine = Machine(limit: 2, idleTimeout: .seconds(60))
        #expect(machine.request(r(0)).connection == .create(c(0)))
        #expect(machine.request(r(1)).connection == .create(c(1)))
        #expect(machine.request(r(2)) == .none)
        #expect(machine.connectionCount == 2 && machine.waitingCount == 3)
        _ = machine.connectionMade(c(0), now: t0)
        _ = machine.connectionMade(c(1), now: t0)
        #expect(machine.exchangeSucceeded(c(1), reusable: true, now: t0) == .init(request: .execute(r(2), on: c(1)), connection: .none))
    }

    @Test func eachWaiterGetsItsOwnConnectionAttemptUnderTheLimit() {
        var machine = Machine(limit: 4, idleTimeout: .seconds(60))
        #expect(machine.request(r(0)).connection == .create(c(0)))
        // Now two wait for one opening connection: a second one opens.
        #expect(machine.request(r(1)).connection == .create(c(1)))
        _ = machine.connectionMade(c(0), now: t0)
        _ = machine.connectionMade(c(1), now: t0)
        _ = machine.exchangeSucceeded(c(0), reusable: true, now: t0)
        #expect(machine.request(r(2)).request == .execute(r(2), on: c(0)))
    }

    @Test func aConnectionNotKeptAliveIsClosedAndReplacedForAWaiter() {
        var machine = Machine(limit: 1, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.request(r(1))
        _ = machine.connectionMade(c(0), now: t0)
        #expect(machine.exchangeSucceeded(c(0), reusable: false, now: t0) == .init(request: .none, connection: .close(c(0), thenCreate: c(1))))
        #expect(machine.connectionMade(c(1), now: t0).request == .execute(r(1), on: c(1)))
        #expect(machine.exchangeSucceeded(c(1), reusable: false, now: t0) == .init(request: .none, connection: .close(c(1), thenCreate: nil)))
        #expect(machine.connectionCount == 0)
    }

    @Test func aFailedConnectionFailsTheOldestWaiterAndTheOthersTryAgain() {
        var machine = Machine(limit: 1, idleTimeout: .seconds(60))
        let refused = UpstreamClientError(.connectFailed, "refused")
        _ = machine.request(r(0))
        _ = machine.request(r(1))
        #expect(machine.connectionFailed(c(0), refused) == .init(request: .fail(r(0), refused), connection: .create(c(1))))
        #expect(machine.connectionFailed(c(1), refused) == .init(request: .fail(r(1), refused), connection: .none))
        #expect(machine.connectionCount == 0 && machine.waitingCount == 0)
        // A late report about a forgotten connection changes nothing.
        #expect(machine.connectionFailed(c(1), refused) == .none)
    }

    @Test func aStaleReusedConnectionIsRetriedOnceOnAFreshOne() {
        var machine = withOneIdleConnection()
        #expect(machine.request(r(1)).request == .execute(r(1), on: c(0)))
        // Closed before any byte of the answer: retried, on a new connection.
        #expect(machine.exchangeFailed(c(0), closed, answerStarted: false) == .init(request: .none, connection: .close(c(0), thenCreate: c(1))))
        #expect(machine.waitingCount == 1)
        #expect(machine.connectionMade(c(1), now: t0).request == .execute(r(1), on: c(1)))
        // The retry is the last attempt.
        #expect(machine.exchangeFailed(c(1), closed, answerStarted: false) == .init(request: .fail(r(1), closed), connection: .close(c(1), thenCreate: nil)))
    }

    @Test func theRetryBudgetIsPerRequest() {
        var machine = withOneIdleConnection()
        _ = machine.request(r(1))
        _ = machine.exchangeFailed(c(0), closed, answerStarted: false)
        _ = machine.connectionMade(c(1), now: t0)
        _ = machine.exchangeSucceeded(c(1), reusable: true, now: t0)
        _ = machine.request(r(2))
        #expect(machine.exchangeFailed(c(1), closed, answerStarted: false).request == .none, "r2's first attempt may be retried")
    }

    @Test(arguments: [
        // The answer had begun: the server took the request.
        (true, UpstreamClientError.Code.connectionClosed),
        // Not a closed connection: a garbled answer or a TLS failure is not the idle-close race.
        (false, UpstreamClientError.Code.invalidResponse),
        (false, UpstreamClientError.Code.tlsFailed),
    ])
    func otherBrokenExchangesAreNotRetried(answerStarted: Bool, code: UpstreamClientError.Code) {
        var machine = withOneIdleConnection()
        _ = machine.request(r(1))
        let error = UpstreamClientError(code)
        #expect(machine.exchangeFailed(c(0), error, answerStarted: answerStarted) == .init(request: .fail(r(1), error), connection: .close(c(0), thenCreate: nil)))
    }

    @Test func aFreshConnectionClosedBeforeTheAnswerIsNotRetried() {
        var machine = Machine(limit: 2, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.connectionMade(c(0), now: t0)
        #expect(machine.exchangeFailed(c(0), closed, answerStarted: false).request == .fail(r(0), closed))
    }

    @Test func aRetryWaitsForANewConnectionNotAnIdleOne() {
        var machine = withTwoIdleConnections(parkedAt: t0, t0)
        _ = machine.request(r(2))  // on c(1)
        #expect(machine.exchangeFailed(c(1), closed, answerStarted: false).connection == .close(c(1), thenCreate: c(2)))
        // c(0), reused and back again, parks instead of serving the retry, which waits for c(2).
        _ = machine.request(r(3))  // takes idle c(0)
        #expect(machine.exchangeSucceeded(c(0), reusable: true, now: t0).request == .none)
        #expect(machine.connectionMade(c(2), now: t0).request == .execute(r(2), on: c(2)))
    }

    @Test func aWaitingRequestTimesOut() {
        var machine = Machine(limit: 1, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.request(r(1))
        #expect(machine.requestTimedOut(r(1)) == .init(request: .fail(r(1), UpstreamClientError(.deadlineExceeded)), connection: .none))
        #expect(machine.waitingCount == 1)
        #expect(machine.requestTimedOut(r(1)) == .none)
    }

    @Test func aRequestTimingOutMidExchangeClosesItsConnection() {
        var machine = Machine(limit: 1, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.request(r(1))
        _ = machine.connectionMade(c(0), now: t0)
        #expect(machine.requestTimedOut(r(0)) == .init(request: .fail(r(0), UpstreamClientError(.deadlineExceeded)), connection: .close(c(0), thenCreate: c(1))))
        // The late answer, or the close, of the forgotten connection changes nothing.
        #expect(machine.exchangeSucceeded(c(0), reusable: true, now: t0) == .none)
        #expect(machine.exchangeFailed(c(0), closed, answerStarted: false) == .none)
        #expect(machine.connectionClosed(c(0)) == .none)
    }

    @Test func anIdleConnectionClosedByTheServerIsForgotten() {
        var machine = withOneIdleConnection()
        #expect(machine.connectionClosed(c(0)) == .none)
        #expect(machine.connectionCount == 0 && machine.idleCount == 0)
        #expect(machine.request(r(1)).connection == .create(c(1)))
    }

    @Test func theIdleSweepClosesConnectionsIdleForTheTimeout() {
        var machine = withTwoIdleConnections(parkedAt: t0, t0 + .seconds(30))
        #expect(machine.idleSweep(now: t0 + .seconds(60)) == .init(request: .none, connection: .closeAll([c(0)], sweepAt: t0 + .seconds(90))))
        #expect(machine.idleSweep(now: t0 + .seconds(90)) == .init(request: .none, connection: .closeAll([c(1)], sweepAt: nil)))
        #expect(machine.connectionCount == 0)
        // With the sweep not scheduled any more, the next park schedules it again.
        _ = machine.request(r(2))
        _ = machine.connectionMade(c(2), now: t0 + .seconds(100))
        #expect(machine.exchangeSucceeded(c(2), reusable: true, now: t0 + .seconds(100)).connection == .scheduleIdleSweep(t0 + .seconds(160)))
    }

    @Test func aConnectionInUseIsNotSweptAndItsIdleClockRestarts() {
        var machine = withOneIdleConnection()
        _ = machine.request(r(1))
        #expect(machine.idleSweep(now: t0 + .seconds(61)) == .init(request: .none, connection: .closeAll([], sweepAt: nil)))
        #expect(machine.exchangeSucceeded(c(0), reusable: true, now: t0 + .seconds(62)).connection == .scheduleIdleSweep(t0 + .seconds(122)))
    }

    @Test func shutdownFailsEverythingAndClosesEveryConnection() {
        var machine = Machine(limit: 2, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.request(r(1))
        _ = machine.request(r(2))
        _ = machine.connectionMade(c(0), now: t0)  // r0 in flight on c0; c1 still opening
        let action = machine.shutdown()
        guard case .failAll(let failed, let error) = action.request, case .closeAll(let connections, nil) = action.connection else {
            Issue.record("unexpected \(action)")
            return
        }
        #expect(Set(failed) == [r(0), r(1), r(2)])
        #expect(error.code == .shutDown)
        #expect(connections == [c(0)])
        // The connection still opening is closed when it is made; new requests fail at once.
        #expect(machine.connectionMade(c(1), now: t0) == .init(request: .none, connection: .close(c(1), thenCreate: nil)))
        #expect(machine.request(r(3)) == .init(request: .fail(r(3), UpstreamClientError(.shutDown)), connection: .none))
        #expect(machine.exchangeSucceeded(c(0), reusable: true, now: t0) == .none)
    }

    /// A connection that fails to open after shutdown was already forgotten: no request to fail, no
    /// new connection for it.
    @Test func aConnectionFailingAfterShutdownChangesNothing() {
        var machine = Machine(limit: 2, idleTimeout: .seconds(60))
        _ = machine.request(r(0))
        _ = machine.shutdown()
        #expect(machine.connectionFailed(c(0), UpstreamClientError(.connectFailed)) == .none)
        #expect(machine.request(r(1)) == .init(request: .fail(r(1), UpstreamClientError(.shutDown)), connection: .none))
    }

    /// An idle sweep scheduled before shutdown finds nothing left to close and schedules no other.
    @Test func anIdleSweepAfterShutdownClosesNothing() {
        var machine = withOneIdleConnection()
        _ = machine.shutdown()
        #expect(machine.idleSweep(now: t0 + .seconds(61)) == .init(request: .none, connection: .closeAll([], sweepAt: nil)))
        #expect(machine.connectionClosed(c(0)) == .none)
    }

    /// A limit of 0 (or less) is taken as 1: the first request still gets a connection, the second waits.
    @Test(arguments: [0, -1])
    func aLimitBelowOneIsOne(limit: Int) {
        var machine = Machine(limit: limit, idleTimeout: .seconds(60))
        #expect(machine.request(r(0)) == .init(request: .none, connection: .create(c(0))))
        #expect(machine.request(r(1)) == .init(request: .none, connection: .none))
        #expect(machine.connectionMade(c(0), now: t0) == .init(request: .execute(r(0), on: c(0)), connection: .none))
        #expect(machine.exchangeSucceeded(c(0), reusable: true, now: t0) == .init(request: .execute(r(1), on: c(0)), connection: .none))
    }
}
