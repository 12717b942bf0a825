import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// What an upstream connection reports to its pool, on the connection's event loop.
protocol UpstreamConnectionDelegate: AnyObject {
    typealias ConnectionID = UpstreamPoolStateMachine.ConnectionID
    typealias RequestID = UpstreamPoolStateMachine.RequestID

    /// The whole answer arrived; `reusable` when the connection may carry another request.
    func exchangeSucceeded(_ connection: ConnectionID, request: RequestID, response: UpstreamResponse, reusable: Bool)
    /// The exchange broke; the connection is being closed. `answerStarted` when any byte of the answer had arrived.
    func exchangeFailed(_ connection: ConnectionID, request: RequestID, error: UpstreamClientError, answerStarted: Bool)
    /// The connection closed (after ``exchangeFailed(_:request:error:answerStarted:)`` when mid-exchange).
    func connectionClosed(_ connection: ConnectionID)
}

/// The last handler of an upstream connection, after the TLS handler and the HTTP/1.1 client codec.
/// It tells when the connection is ready (connected and, with TLS, handshaken), writes one request at a
/// time with a single flush, and reads the answer: the status, `Retry-After`, `X-RateLimit-Reset` and
/// the body up to a cap. The rest of a larger body is read and dropped, so the connection stays reusable.
final class UpstreamConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    typealias ConnectionID = UpstreamPoolStateMachine.ConnectionID
    typealias RequestID = UpstreamPoolStateMachine.RequestID

    private enum Readiness {
        case pending
        case ready
        case failed(UpstreamClientError)
    }

    private struct Exchange {
        var request: RequestID
        var answerStarted = false
        /// The final (not informational) head, once it arrived.
        var head: HTTPResponseHead?
        var body: ByteBuffer?
    }

    let connection: ConnectionID
    private let usesTLS: Bool
    /// Connecting and the TLS handshake must be done by then.
    private let connectDeadline: NIODeadline
    private let maxBodyBytes: Int

    private var context: ChannelHandlerContext?
    private var readiness = Readiness.pending
    private var whenReady: ((UpstreamClientError?) -> Void)?
    private var handshakeTimer: Scheduled<Void>?
    private var delegate: (any UpstreamConnectionDelegate)?
    private var exchange: Exchange?

    init(connection: ConnectionID, usesTLS: Bool, connectDeadline: NIODeadline, maxBodyBytes: Int) {
        self.connection = connection
        self.usesTLS = usesTLS
        self.connectDeadline = connectDeadline
        self.maxBodyBytes = maxBodyBytes
    }

    /// Calls `done` once the connection is ready (`nil`, at once when it already is) or could not become
    /// so; from then on the handler reports to `delegate`. Only the pool's winning channel is started:
    /// a channel that lost a happy-eyeballs race is never adopted and reports nothing.
    func start(reportingTo delegate: any UpstreamConnectionDelegate, whenReady done: @escaping (UpstreamClientError?) -> Void) {
        switch readiness {
        case .ready:
            self.delegate = delegate
            done(nil)
        case .failed(let error):
            done(error)
        case .pending:
            self.delegate = delegate
            whenReady = done
        }
    }

    /// Writes a request: head, body and end, one flush. The connection must be ready and idle.
    func send(_ request: UpstreamRequest, id: RequestID) {
        guard let context, exchange == nil, context.channel.isActive else {
            delegate?.exchangeFailed(connection, request: id, error: UpstreamClientError(.connectionClosed, "not writable"), answerStarted: false)
            return
        }
        exchange = Exchange(request: id)
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Closes the connection; its events still arrive (and find the pool has forgotten it).
    func close() {
        context?.close(promise: nil)
    }

    /// Completes when the channel has closed.
    var closeFuture: EventLoopFuture<Void>? { context?.channel.closeFuture }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { becameActive(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        becameActive(context: context)
        context.fireChannelActive()
    }

    private func becameActive(context: ChannelHandlerContext) {
        guard case .pending = readiness, handshakeTimer == nil else { return }
        guard usesTLS else {
            ready()
            return
        }
        // The TLS handshake counts against the connect timeout, as the TCP connect does.
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: connectDeadline) { [self] in
            notReady(UpstreamClientError(.connectTimeout, "TLS handshake not done in time"))
            self.context?.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted? = event as? TLSUserEvent { ready() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard exchange != nil else {
            // An answer nobody asked for: the connection's framing cannot be trusted any more.
            context.close(promise: nil)
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            exchange!.answerStarted = true
            // 1xx heads are informational; the final answer follows.
            if head.status.code >= 200 || head.status == .switchingProtocols { exchange!.head = head }
        case .body(let part):
            let kept = exchange!.body?.readableBytes ?? 0
            guard kept < maxBodyBytes else { return }  // read and dropped
            let slice = part.readableBytes <= maxBodyBytes - kept ? part : part.getSlice(at: part.readerIndex, length: maxBodyBytes - kept)!
            if exchange!.body == nil {
                exchange!.body = slice
            } else {
                exchange!.body!.writeImmutableBuffer(slice)
            }
        case .end:
            guard let finished = exchange, let head = finished.head else { return }  // the end of a 1xx
            exchange = nil
            let response = UpstreamResponse(
                status: Int(head.status.code),
                retryAfter: head.headers.first(name: "Retry-After"),
                rateLimitReset: head.headers.first(name: "X-RateLimit-Reset"),
                body: finished.body ?? ByteBuffer()
            )
            // A body delimited by the close arrives complete after the channel went inactive.
            let reusable = head.isKeepAlive && context.channel.isActive
            delegate?.exchangeSucceeded(connection, request: finished.request, response: response, reusable: reusable)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure = Self.classify(error, connecting: isConnecting)
        notReady(failure)
        if let failed = exchange {
            exchange = nil
            delegate?.exchangeFailed(connection, request: failed.request, error: failure, answerStarted: failed.answerStarted)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        notReady(UpstreamClientError(.connectionClosed, "closed before the connection was ready"))
        if let failed = exchange {
            exchange = nil
            let reason = failed.answerStarted ? "closed mid-answer" : "closed before any answer"
            delegate?.exchangeFailed(connection, request: failed.request, error: UpstreamClientError(.connectionClosed, reason), answerStarted: failed.answerStarted)
        }
        delegate?.connectionClosed(connection)
        delegate = nil  // the pool holds us, we held it: let both go
        context.fireChannelInactive()
    }

    // MARK: Readiness

    private var isConnecting: Bool {
        if case .pending = readiness { return true }
        return false
    }

    private func ready() {
        guard case .pending = readiness else { return }
        readiness = .ready
        handshakeTimer?.cancel()
        handshakeTimer = nil
        whenReady.take()?(nil)
    }

    private func notReady(_ error: UpstreamClientError) {
        guard case .pending = readiness else { return }
        readiness = .failed(error)
        handshakeTimer?.cancel()
        handshakeTimer = nil
        if let done = whenReady.take() {
            delegate = nil  // never adopted
            done(error)
        }
    }

    /// Sorts a channel or connect error into the client's codes.
    static func classify(_ error: any Error, connecting: Bool) -> UpstreamClientError {
        switch error {
        case let error as UpstreamClientError:
            return error
        case NIOSSLError.uncleanShutdown:
            return UpstreamClientError(.connectionClosed, "TLS connection closed without close_notify")
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return UpstreamClientError(.tlsFailed, "\(error)")
        case HTTPParserError.invalidEOFState:
            return UpstreamClientError(.connectionClosed, "closed mid-answer")
        case ChannelError.connectTimeout:
            return UpstreamClientError(.connectTimeout, "no connection in time")
        case is HTTPParserError:
            return UpstreamClientError(.invalidResponse, "\(error)")
        default:
            return UpstreamClientError(connecting ? .connectFailed : .connectionClosed, "\(error)")
        }
    }
}

@available(*, unavailable)
extension UpstreamConnectionHandler: Sendable {}
