@testable import ConsentGate
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOTLS
import Testing

/// The upstream connection handler on an `EmbeddedChannel`, behind the same HTTP/1.1 client codec as
/// in production: every byte and every close is the test's to choose, and time moves only when told.
@Suite struct UpstreamConnectionHandlerTests {
    typealias ConnectionID = UpstreamPoolStateMachine.ConnectionID
    typealias RequestID = UpstreamPoolStateMachine.RequestID

    /// What the handler reported to its pool, in order.
    final class Recorder: UpstreamConnectionDelegate {
        enum Report: Equatable {
            case succeeded(RequestID, UpstreamResponse, reusable: Bool)
            case failed(RequestID, UpstreamClientError.Code, answerStarted: Bool)
            case closed
        }

        var reports: [Report] = []

        func exchangeSucceeded(_ connection: ConnectionID, request: RequestID, response: UpstreamResponse, reusable: Bool) {
            reports.append(.succeeded(request, response, reusable: reusable))
        }

        func exchangeFailed(_ connection: ConnectionID, request: RequestID, error: UpstreamClientError, answerStarted: Bool) {
            reports.append(.failed(request, error.code, answerStarted: answerStarted))
        }

        func connectionClosed(_ connection: ConnectionID) {
            reports.append(.closed)
        }
    }

    /// A connected plain-HTTP channel whose handler is ready and reports to `recorder`.
    struct Connection {
        let channel: EmbeddedChannel
        let handler: UpstreamConnectionHandler
        let recorder = Recorder()

        init(maxBodyBytes: Int = 1024, codec: Bool = true) throws {
            channel = EmbeddedChannel()
            handler = UpstreamConnectionHandler(
                connection: ConnectionID(rawValue: 0), usesTLS: false, connectDeadline: .uptimeNanoseconds(0) + .seconds(5),
                maxBodyBytes: maxBodyBytes)
            if codec { try channel.pipeline.syncOperations.addHTTPClientHandlers() }
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
            var readiness: UpstreamClientError?? = .none
            handler.start(reportingTo: recorder) { readiness = .some($0) }
            guard case .some(nil) = readiness else { throw UpstreamClientError(.connectFailed, "not ready") }
        }

        /// Sends a request and returns what went out on the wire.
        func send(_ id: Int) throws -> String {
            let request = UpstreamRequest.post(path: "/v1/batch", host: "api.segment.io", body: ByteBuffer(string: #"{"batch":[]}"#)) { _ in }
            handler.send(request, id: RequestID(id))
            var written = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += String(buffer: buffer) }
            return written
        }

        func receive(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
        }
    }

    static func response(_ status: Int, body: String, retryAfter: String? = nil) -> UpstreamResponse {
        UpstreamResponse(status: status, retryAfter: retryAfter, rateLimitReset: nil, body: ByteBuffer(string: body))
    }

    @Test func aRequestGoesOutWhole() throws {
        let connection = try Connection()
        let written = try connection.send(1)
        #expect(written.hasPrefix("POST /v1/batch HTTP/1.1\r\n"))
        #expect(written.contains("Host: api.segment.io\r\n"))
        #expect(written.hasSuffix("\r\n\r\n" + #"{"batch":[]}"#))
    }

    /// An answer that arrives in pieces, the head itself cut in two, is reported once, whole.
    @Test func anAnswerSplitAcrossReadsIsReportedOnceWhole() throws {
        let connection = try Connection()
        _ = try connection.send(1)
        try connection.receive("HTTP/1.1 429 Too Many Requests\r\nContent-Le")
        try connection.receive("ngth: 16\r\nRetry-After: 3\r\n\r\n{\"succ")
        #expect(connection.recorder.reports.isEmpty)
        try connection.receive("ess\":true}")
        let answer = Self.response(429, body: #"{"success":true}"#, retryAfter: "3")
        #expect(connection.recorder.reports == [.succeeded(RequestID(1), answer, reusable: true)])
        // The connection carries the next request.
        _ = try connection.send(2)
        try connection.receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        #expect(connection.recorder.reports.last == .succeeded(RequestID(2), Self.response(200, body: "{}"), reusable: true))
    }

    @Test func anAnswerWithConnectionCloseIsNotReusable() throws {
        let connection = try Connection()
        _ = try connection.send(1)
        try connection.receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        #expect(connection.recorder.reports == [.succeeded(RequestID(1), Self.response(200, body: "{}"), reusable: false)])
    }

    /// A close mid-answer fails the exchange with `answerStarted` (the pool must not retry it: the
    /// upstream may have taken the events), then reports the close.
    @Test func aCloseMidAnswerFailsTheExchangeAsStarted() throws {
        let connection = try Connection()
        _ = try connection.send(1)
        try connection.receive("HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n{\"succ")
        try connection.channel.close().wait()
        #expect(connection.recorder.reports == [.failed(RequestID(1), .connectionClosed, answerStarted: true), .closed])
    }

    /// A close before any byte of the answer is what the pool may retry once on a fresh connection.
    @Test func aCloseBeforeAnyAnswerFailsTheExchangeAsNotStarted() throws {
        let connection = try Connection()
        _ = try connection.send(1)
        try connection.channel.close().wait()
        #expect(connection.recorder.reports == [.failed(RequestID(1), .connectionClosed, answerStarted: false), .closed])
    }

    /// The production codec drops informational answers: a `100 Continue` before the answer changes nothing.
    @Test func anInformationalAnswerBeforeTheFinalOneIsSkipped() throws {
        let connection = try Connection()
        _ = try connection.send(1)
        try connection.receive("HTTP/1.1 100 Continue\r\n\r\n")
        #expect(connection.recorder.reports.isEmpty)
        try connection.receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        #expect(connection.recorder.reports == [.succeeded(RequestID(1), Self.response(200, body: "{}"), reusable: true)])
    }

    /// Informational heads that do reach the handler (a codec that forwards them, with or without an
    /// end of their own) are skipped too: only the final head makes the answer.
    @Test(arguments: [false, true])
    func informationalHeadsThatReachTheHandlerAreSkipped(withEnd: Bool) throws {
        let connection = try Connection(codec: false)
        connection.handler.send(
            UpstreamRequest.post(path: "/v1/batch", host: "api.segment.io", body: ByteBuffer(string: "{}")) { _ in }, id: RequestID(1))
        try connection.channel.writeInbound(HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: .continue)))
        if withEnd { try connection.channel.writeInbound(HTTPClientResponsePart.end(nil)) }
        try connection.channel.writeInbound(HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: .processing)))
        #expect(connection.recorder.reports.isEmpty)
        let final = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
        try connection.channel.writeInbound(HTTPClientResponsePart.head(final))
        try connection.channel.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "{}")))
        try connection.channel.writeInbound(HTTPClientResponsePart.end(nil))
        #expect(connection.recorder.reports == [.succeeded(RequestID(1), Self.response(200, body: "{}"), reusable: true)])
    }

    /// A body over the cap is kept up to the cap and the rest read and dropped, so the connection
    /// stays reusable and the next answer is framed right.
    @Test func aBodyOverTheCapIsCutAndTheRestDrained() throws {
        let connection = try Connection(maxBodyBytes: 8)
        _ = try connection.send(1)
        try connection.receive("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 26\r\n\r\nabcdef")
        try connection.receive("ghijklmnop")
        try connection.receive("qrstuvwxyz")
        #expect(connection.recorder.reports == [.succeeded(RequestID(1), Self.response(500, body: "abcdefgh"), reusable: true)])
        _ = try connection.send(2)
        try connection.receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        #expect(connection.recorder.reports.last == .succeeded(RequestID(2), Self.response(200, body: "{}"), reusable: true))
    }

    /// Bytes nobody asked for mean the connection's framing cannot be trusted: it is closed.
    @Test func anAnswerNobodyAskedForClosesTheConnection() throws {
        let connection = try Connection()
        try connection.receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        #expect(!connection.channel.isActive)
        #expect(connection.recorder.reports == [.closed])
    }

    /// With TLS, the connection is ready once the handshake completes; until the connect deadline.
    @Test func theTLSHandshakeMustCompleteByTheConnectDeadline() throws {
        let channel = EmbeddedChannel()
        let handler = UpstreamConnectionHandler(
            connection: ConnectionID(rawValue: 0), usesTLS: true, connectDeadline: .uptimeNanoseconds(0) + .seconds(5), maxBodyBytes: 1024)
        try channel.pipeline.syncOperations.addHandler(handler)
        let recorder = Recorder()
        var readiness: [UpstreamClientError?] = []
        handler.start(reportingTo: recorder) { readiness.append($0) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(readiness.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(readiness.map { $0?.code } == [.connectTimeout])
        #expect(!channel.isActive)
        // Never adopted: the pool hears nothing more of it.
        #expect(recorder.reports.isEmpty)
    }

    @Test func aHandshakeDoneInTimeMakesTheConnectionReady() throws {
        let channel = EmbeddedChannel()
        let handler = UpstreamConnectionHandler(
            connection: ConnectionID(rawValue: 0), usesTLS: true, connectDeadline: .uptimeNanoseconds(0) + .seconds(5), maxBodyBytes: 1024)
        try channel.pipeline.syncOperations.addHandler(handler)
        var readiness: [UpstreamClientError?] = []
        handler.start(reportingTo: Recorder()) { readiness.append($0) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        #expect(readiness.map { $0?.code } == [nil])
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(channel.isActive)
        #expect(readiness.count == 1)
    }
}
