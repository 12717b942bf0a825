import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One event loop's upstream connections: thin wiring around ``UpstreamPoolStateMachine``. It opens
/// connections on its loop, runs the request deadlines and the idle sweep, and completes requests.
/// Everything runs on ``eventLoop`` (the client reaches it through a loop-bound box), so nothing locks.
final class UpstreamConnectionPool: UpstreamConnectionDelegate {
    typealias ConnectionID = UpstreamPoolStateMachine.ConnectionID
    typealias RequestID = UpstreamPoolStateMachine.RequestID

    let eventLoop: any EventLoop
    private let configuration: UpstreamClient.Configuration
    private let sslContext: NIOSSLContext?
    private var machine: UpstreamPoolStateMachine
    private var handlers: [ConnectionID: UpstreamConnectionHandler] = [:]
    private var pending: [RequestID: Pending] = [:]
    private var nextRequest = 0

    private struct Pending {
        var request: UpstreamRequest
        var promise: EventLoopPromise<UpstreamResponse>
        var deadline: NIOScheduledCallback?
    }

    /// - Parameter limit: this loop's share of the client's connections.
    init(eventLoop: any EventLoop, configuration: UpstreamClient.Configuration, sslContext: NIOSSLContext?, limit: Int) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.sslContext = sslContext
        self.machine = UpstreamPoolStateMachine(limit: limit, idleTimeout: configuration.idleTimeout)
    }

    /// Runs `request` on one of this loop's connections and completes `promise` with the answer or an
    /// ``UpstreamClientError``, within `timeout` at the latest.
    func execute(_ request: UpstreamRequest, timeout: TimeAmount, promise: EventLoopPromise<UpstreamResponse>) {
        let id = RequestID(nextRequest)
        nextRequest &+= 1
        let deadline: NIOScheduledCallback
        do {
            deadline = try eventLoop.assumeIsolated().scheduleCallback(
                in: timeout, handler: RequestDeadline(pool: self, request: id))
        } catch {
            promise.fail(UpstreamClientError(.shutDown, "the event loop is shutting down"))
            return
        }
        pending[id] = Pending(request: request, promise: promise, deadline: deadline)
        perform(machine.request(id))
    }

    /// Fails what is waiting or in flight and closes every connection; completes once they are closed.
    func shutdown() -> EventLoopFuture<Void> {
        let closing = handlers.values.compactMap(\.closeFuture)
        perform(machine.shutdown())
        return EventLoopFuture.andAllComplete(closing, on: eventLoop)
    }

    // MARK: Connection events

    func exchangeSucceeded(_ connection: ConnectionID, request: RequestID, response: UpstreamResponse, reusable: Bool) {
        complete(request, .success(response))
        perform(machine.exchangeSucceeded(connection, reusable: reusable, now: .now()))
    }

    func exchangeFailed(_ connection: ConnectionID, request: RequestID, error: UpstreamClientError, answerStarted: Bool) {
        perform(machine.exchangeFailed(connection, error, answerStarted: answerStarted))
    }

    func connectionClosed(_ connection: ConnectionID) {
        handlers[connection] = nil
        perform(machine.connectionClosed(connection))
    }

    fileprivate func deadlinePassed(_ request: RequestID) {
        pending[request]?.deadline = nil
        perform(machine.requestTimedOut(request))
    }

    // MARK: Actions

    private func perform(_ action: UpstreamPoolStateMachine.Action) {
        switch action.connection {
        case .none:
            break
        case .create(let connection):
            connect(connection)
        case .close(let connection, let replacement):
            handlers.removeValue(forKey: connection)?.close()
            if let replacement { connect(replacement) }
        case .closeAll(let connections, let sweepAt):
            for connection in connections { handlers.removeValue(forKey: connection)?.close() }
            if let sweepAt { scheduleIdleSweep(at: sweepAt) }
        case .scheduleIdleSweep(let at):
            scheduleIdleSweep(at: at)
        }
        switch action.request {
        case .none:
            break
        case .execute(let request, let connection):
            guard let handler = handlers[connection], let waiting = pending[request] else {
                // Cannot happen: the machine leases only connections and requests it holds.
                assertionFailure("lease of \(request) on \(connection) without both")
                perform(machine.exchangeFailed(connection, UpstreamClientError(.connectionClosed, "lost"), answerStarted: true))
                return
            }
            handler.send(waiting.request, id: request)
        case .fail(let request, let error):
            complete(request, .failure(error))
        case .failAll(let requests, let error):
            for request in requests { complete(request, .failure(error)) }
        }
    }

    private func complete(_ request: RequestID, _ result: Result<UpstreamResponse, UpstreamClientError>) {
        guard let done = pending.removeValue(forKey: request) else { return }  // already timed out
        done.deadline?.cancel()
        switch result {
        case .success(let response): done.promise.succeed(response)
        case .failure(let error): done.promise.fail(error)
        }
    }

    private func scheduleIdleSweep(at deadline: NIODeadline) {
        eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            perform(machine.idleSweep(now: .now()))
        }
    }

    /// Opens a connection: TCP (happy eyeballs over the host's addresses), then TLS with SNI and
    /// hostname verification, then the HTTP/1.1 client codec and our handler. Connect and handshake
    /// together are bounded by the connect timeout.
    private func connect(_ connection: ConnectionID) {
        let timeout = configuration.connectTimeout
        let deadline = NIODeadline.now() + timeout
        let sslContext = self.sslContext
        let serverName = configuration.endpoint.serverName
        let maxBodyBytes = configuration.maxResponseBodyBytes
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(
                        UpstreamConnectionHandler(
                            connection: connection, usesTLS: sslContext != nil, connectDeadline: deadline, maxBodyBytes: maxBodyBytes))
                }
            }
            .connect(host: configuration.endpoint.connectHost, port: configuration.endpoint.connectPort)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .failure(let error):
                    perform(machine.connectionFailed(connection, UpstreamConnectionHandler.classify(error, connecting: true)))
                case .success(let channel):
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self) else {
                        channel.close(promise: nil)
                        perform(machine.connectionFailed(connection, UpstreamClientError(.connectFailed, "pipeline incomplete")))
                        return
                    }
                    handler.start(reportingTo: self) { [self] error in
                        if let error {
                            channel.close(promise: nil)
                            perform(machine.connectionFailed(connection, error))
                        } else {
                            handlers[connection] = handler
                            perform(machine.connectionMade(connection, now: .now()))
                        }
                    }
                }
            }
    }
}

@available(*, unavailable)
extension UpstreamConnectionPool: Sendable {}

/// Times a request out: a scheduled callback, lighter than a scheduled task (no promise per request).
private struct RequestDeadline: NIOScheduledCallbackHandler {
    let pool: UpstreamConnectionPool
    let request: UpstreamPoolStateMachine.RequestID

    func handleScheduledCallback(eventLoop: some EventLoop) {
        pool.deadlinePassed(request)
    }
}
