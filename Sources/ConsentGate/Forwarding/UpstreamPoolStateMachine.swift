import NIOCore

/// The connection pool of one event loop, as a value: it holds no socket and reads no clock. It takes
/// events (a request, a connection made or failed, an exchange finished, a timer) and answers with what
/// the wiring must do. One machine per event loop, used only on that loop, so it needs no lock.
///
/// Connections are leased one request at a time (HTTP/1.1 without pipelining). An idle connection is
/// reused most-recently-parked first, so the oldest ones age out under light load.
struct UpstreamPoolStateMachine {
    struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
        let rawValue: Int
        var description: String { "c\(rawValue)" }
    }

    struct RequestID: Hashable, Sendable, CustomStringConvertible {
        let rawValue: Int
        init(_ rawValue: Int) { self.rawValue = rawValue }
        var description: String { "r\(rawValue)" }
    }

    /// What to do with requests.
    enum RequestAction: Equatable {
        case none
        /// Send the request on the connection, leased to it until its exchange is reported finished.
        case execute(RequestID, on: ConnectionID)
        /// Complete the request with this error.
        case fail(RequestID, UpstreamClientError)
        /// Complete all these requests with this error.
        case failAll([RequestID], UpstreamClientError)
    }

    /// What to do with connections. A connection to close is already forgotten by the machine.
    enum ConnectionAction: Equatable {
        case none
        /// Open a connection; report ``connectionMade(_:now:)`` or ``connectionFailed(_:_:)``.
        case create(ConnectionID)
        /// Close a connection and, when a request waits for one, open another.
        case close(ConnectionID, thenCreate: ConnectionID?)
        /// Close these connections; call ``idleSweep(now:)`` at `sweepAt` when given.
        case closeAll([ConnectionID], sweepAt: NIODeadline?)
        /// Call ``idleSweep(now:)`` at this time.
        case scheduleIdleSweep(NIODeadline)
    }

    /// Both halves of a decision: one event can complete a request and open a connection at once.
    struct Action: Equatable {
        var request: RequestAction
        var connection: ConnectionAction

        static let none = Action(request: .none, connection: .none)
    }

    private struct Lease {
        var request: RequestID
        /// Whether the connection had served an exchange before this one (it may be stale).
        var reused: Bool
        /// Whether this is the request's second attempt.
        var retried: Bool
    }

    private enum ConnectionState {
        case starting
        case idle(since: NIODeadline)
        case leased(Lease)
    }

    private struct Waiter {
        var request: RequestID
        /// A retry after a stale connection: it waits for a new connection, not an idle one.
        var freshOnly: Bool
        var retried: Bool
    }

    /// Connections of this loop at most (open, opening or leased).
    let limit: Int
    /// How long a connection stays idle before it is closed.
    let idleTimeout: TimeAmount

    private var connections: [ConnectionID: ConnectionState] = [:]
    /// Idle connections, oldest first.
    private var idle: [ConnectionID] = []
    private var waiters = CircularBuffer<Waiter>()
    private var starting = 0
    private var nextConnection = 0
    private var sweepScheduled = false
    private(set) var isShutDown = false

    init(limit: Int, idleTimeout: TimeAmount) {
        self.limit = max(1, limit)
        self.idleTimeout = idleTimeout
    }

    /// Connections held (opening, idle or leased), for tests and metrics.
    var connectionCount: Int { connections.count }
    /// Idle connections, for tests.
    var idleCount: Int { idle.count }
    /// Requests waiting for a connection, for tests.
    var waitingCount: Int { waiters.count }

    // MARK: Events

    /// A new request: on an idle connection when there is one, else it waits (and a connection is
    /// opened for it while the loop is under its limit).
    mutating func request(_ request: RequestID) -> Action {
        if isShutDown { return Action(request: .fail(request, UpstreamClientError(.shutDown)), connection: .none) }
        if let connection = idle.popLast() {
            connections[connection] = .leased(Lease(request: request, reused: true, retried: false))
            return Action(request: .execute(request, on: connection), connection: .none)
        }
        waiters.append(Waiter(request: request, freshOnly: false, retried: false))
        return Action(request: .none, connection: makeConnectionIfNeeded().map { .create($0) } ?? .none)
    }

    /// A connection is ready (TCP connected, TLS handshake done): it serves the oldest waiter, or parks.
    mutating func connectionMade(_ connection: ConnectionID, now: NIODeadline) -> Action {
        guard case .starting? = connections[connection] else {
            // Forgotten meanwhile (shutdown): nobody will use it.
            return Action(request: .none, connection: .close(connection, thenCreate: nil))
        }
        starting -= 1
        if let waiter = popWaiter(forFreshConnection: true) {
            connections[connection] = .leased(Lease(request: waiter.request, reused: false, retried: waiter.retried))
            return Action(request: .execute(waiter.request, on: connection), connection: .none)
        }
        return Action(request: .none, connection: park(connection, now: now))
    }

    /// A connection could not be made. The oldest waiter gets the error (the upstream is most likely
    /// down, and its client should retry, not wait); the others keep their own connection attempts.
    mutating func connectionFailed(_ connection: ConnectionID, _ error: UpstreamClientError) -> Action {
        guard case .starting? = connections[connection] else { return .none }
        connections[connection] = nil
        starting -= 1
        guard let waiter = waiters.popFirst() else { return .none }
        return Action(request: .fail(waiter.request, error), connection: makeConnectionIfNeeded().map { .create($0) } ?? .none)
    }

    /// The exchange on a leased connection ended with a complete answer (which the wiring hands to its
    /// request). A reusable connection serves the next waiter or parks; another one is closed.
    mutating func exchangeSucceeded(_ connection: ConnectionID, reusable: Bool, now: NIODeadline) -> Action {
        guard case .leased? = connections[connection] else { return .none }
        guard reusable, !isShutDown else {
            connections[connection] = nil
            return Action(request: .none, connection: .close(connection, thenCreate: makeConnectionIfNeeded()))
        }
        if let waiter = popWaiter(forFreshConnection: false) {
            connections[connection] = .leased(Lease(request: waiter.request, reused: true, retried: waiter.retried))
            return Action(request: .execute(waiter.request, on: connection), connection: .none)
        }
        return Action(request: .none, connection: park(connection, now: now))
    }

    /// The exchange on a leased connection failed; the connection is gone. When it was a reused
    /// connection that closed before any byte of the answer (the server closed it while it sat idle,
    /// and the close crossed our request), the request is retried once on a fresh connection: the
    /// server most likely never saw it. Otherwise the request fails with `error`.
    mutating func exchangeFailed(_ connection: ConnectionID, _ error: UpstreamClientError, answerStarted: Bool) -> Action {
        guard case .leased(let lease)? = connections[connection] else { return .none }
        connections[connection] = nil
        if lease.reused, !lease.retried, !answerStarted, error.code == .connectionClosed, !isShutDown {
            waiters.prepend(Waiter(request: lease.request, freshOnly: true, retried: true))
            return Action(request: .none, connection: .close(connection, thenCreate: makeConnectionIfNeeded()))
        }
        return Action(request: .fail(lease.request, error), connection: .close(connection, thenCreate: makeConnectionIfNeeded()))
    }

    /// The peer closed a connection outside an exchange (an exchange's own failure is reported with
    /// ``exchangeFailed(_:_:answerStarted:)`` first, and a starting connection's with ``connectionFailed(_:_:)``).
    mutating func connectionClosed(_ connection: ConnectionID) -> Action {
        guard case .idle? = connections[connection] else { return .none }
        connections[connection] = nil
        idle.removeAll { $0 == connection }
        return Action(request: .none, connection: makeConnectionIfNeeded().map { .create($0) } ?? .none)
    }

    /// A request's deadline passed. Waiting, it just fails; mid-exchange, its connection is closed too
    /// (an answer may still be on its way, and the connection cannot be reused before it is read).
    mutating func requestTimedOut(_ request: RequestID) -> Action {
        let error = UpstreamClientError(.deadlineExceeded)
        if let index = waiters.firstIndex(where: { $0.request == request }) {
            waiters.remove(at: index)
            return Action(request: .fail(request, error), connection: .none)
        }
        for (connection, state) in connections {
            if case .leased(let lease) = state, lease.request == request {
                connections[connection] = nil
                return Action(request: .fail(request, error), connection: .close(connection, thenCreate: makeConnectionIfNeeded()))
            }
        }
        return .none
    }

    /// Closes connections idle for ``idleTimeout`` or longer.
    mutating func idleSweep(now: NIODeadline) -> Action {
        var expired: [ConnectionID] = []
        while let oldest = idle.first, case .idle(let since)? = connections[oldest], since + idleTimeout <= now {
            idle.removeFirst()
            connections[oldest] = nil
            expired.append(oldest)
        }
        var next: NIODeadline?
        if let oldest = idle.first, case .idle(let since)? = connections[oldest] { next = since + idleTimeout }
        sweepScheduled = next != nil
        return Action(request: .none, connection: .closeAll(expired, sweepAt: next))
    }

    /// Fails every waiting and in-flight request, closes every connection; later requests fail at once.
    mutating func shutdown() -> Action {
        isShutDown = true
        var failed = waiters.map(\.request)
        waiters.removeAll()
        var closed: [ConnectionID] = []
        for (connection, state) in connections {
            switch state {
            case .starting: break  // closed when made
            case .idle: closed.append(connection)
            case .leased(let lease):
                closed.append(connection)
                failed.append(lease.request)
            }
        }
        connections.removeAll()
        idle.removeAll()
        starting = 0
        return Action(request: .failAll(failed, UpstreamClientError(.shutDown)), connection: .closeAll(closed, sweepAt: nil))
    }

    // MARK: Helpers

    /// A new connection's id when a waiter is not covered by a connection being opened and the loop
    /// is under its limit.
    private mutating func makeConnectionIfNeeded() -> ConnectionID? {
        guard !isShutDown, waiters.count > starting, connections.count < limit else { return nil }
        let connection = ConnectionID(rawValue: nextConnection)
        nextConnection += 1
        connections[connection] = .starting
        starting += 1
        return connection
    }

    /// The oldest waiter that may take the connection: a retry takes only a fresh one.
    private mutating func popWaiter(forFreshConnection fresh: Bool) -> Waiter? {
        if fresh { return waiters.popFirst() }
        guard let index = waiters.firstIndex(where: { !$0.freshOnly }) else { return nil }
        return waiters.remove(at: index)
    }

    private mutating func park(_ connection: ConnectionID, now: NIODeadline) -> ConnectionAction {
        connections[connection] = .idle(since: now)
        idle.append(connection)
        guard !sweepScheduled else { return .none }
        sweepScheduled = true
        return .scheduleIdleSweep(now + idleTimeout)
    }
}
