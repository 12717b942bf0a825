@testable import ConsentGate
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// The upstream client against a real local server (the ``SegmentSink``, TLS unless said otherwise):
/// keep-alive reuse, connections the server closes, deadlines, refused and silent servers, the body
/// cap, queueing beyond the limit, and shutdown.
@Suite(.timeLimit(.minutes(1)))
struct UpstreamClientTests {
    /// Runs `body` with a started sink and a client pointed at it; stops both afterwards.
    func withClient(
        sink options: SegmentSink.Options = .init(), _ adjust: (inout UpstreamClient.Configuration) -> Void = { _ in },
        _ body: (UpstreamClient, SegmentSink) async throws -> Void
    ) async throws {
        let sink = try await SegmentSink.start(options)
        let client: UpstreamClient
        do {
            client = try Self.client(url: sink.url, adjust)
        } catch {
            await sink.stop()
            throw error
        }
        do {
            try await body(client, sink)
        } catch {
            await client.shutdown()
            await sink.stop()
            throw error
        }
        await client.shutdown()
        await sink.stop()
    }

    static func client(url: String, trustTestCA: Bool = true, _ adjust: (inout UpstreamClient.Configuration) -> Void = { _ in }) throws -> UpstreamClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.shutdownTimeout = .seconds(1)
        if trustTestCA { tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(TestCertificates.files.ca))] }
        var configuration = UpstreamClient.Configuration(
            endpoint: UpstreamEndpoint(url: url)!, tls: tls, connectTimeout: .seconds(3), requestTimeout: .seconds(5))
        adjust(&configuration)
        return try UpstreamClient(configuration: configuration)
    }

    func post(_ client: UpstreamClient, on eventLoop: (any EventLoop)? = nil, timeout: TimeAmount? = nil) async -> Result<UpstreamResponse, UpstreamClientError> {
        let request = UpstreamRequest.post(path: "/v1/batch", host: client.configuration.endpoint.hostHeader, body: ByteBuffer(string: #"{"batch":[]}"#)) {
            $0.add(name: "Content-Type", value: "application/json")
        }
        do {
            return .success(try await client.execute(request, on: eventLoop, timeout: timeout))
        } catch {
            return .failure(error)
        }
    }

    /// One loop of the shared group, so that consecutive requests use the same pool.
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    @Test func keptAliveConnectionsAreReused() async throws {
        try await withClient { (client, sink) async throws in
            for _ in 0..<3 {
                let response = try await post(client, on: loop).value()
                #expect(response.status == 200)
                #expect(String(buffer: response.body) == #"{"success":true}"#)
            }
            let received = sink.received
            #expect(received.count == 3)
            #expect(Set(received.map(\.clientPort)).count == 1, "one connection for all three")
            #expect(received.first.map { String(decoding: $0.body, as: UTF8.self) } == #"{"batch":[]}"#)
        }
    }

    @Test func plainHTTPWorksToo() async throws {
        try await withClient(sink: .init(tls: false)) { (client, sink) async throws in
            #expect(sink.url.hasPrefix("http://"))
            #expect(try await post(client, on: loop).value().status == 200)
            #expect(try await post(client, on: loop).value().status == 200)
            #expect(Set(sink.received.map(\.clientPort)).count == 1)
        }
    }

    @Test func statusAndRateLimitHeadersArePassedOn() async throws {
        try await withClient { (client, sink) async throws in
            sink.respond(.init(status: 429, headers: [("Retry-After", "7"), ("X-RateLimit-Reset", "1700000000")], body: "{}"))
            let response = try await post(client, on: loop).value()
            #expect(response.status == 429)
            #expect(response.retryAfter == "7")
            #expect(response.rateLimitReset == "1700000000")
        }
    }

    @Test func aRedirectIsJustAnAnswer() async throws {
        try await withClient { (client, sink) async throws in
            sink.respond(.init(status: 307, headers: [("Location", "https://elsewhere.invalid/")], body: ""))
            #expect(try await post(client, on: loop).value().status == 307)
            #expect(sink.received.count == 1)
        }
    }

    @Test func aConnectionTheServerClosedWhileIdleIsReplaced() async throws {
        // (Not much shorter: a loaded machine's handshake must not look idle to the sink.)
        try await withClient(sink: .init(idleTimeout: .seconds(1))) { (client, sink) async throws in
            #expect(try await post(client, on: loop).value().status == 200)
            try await Task.sleep(for: .seconds(3))  // the sink closes the idle connection
            #expect(try await post(client, on: loop).value().status == 200)
            let ports = sink.received.map(\.clientPort)
            #expect(ports.count == 2 && ports[0] != ports[1], "a new connection: \(ports)")
        }
    }

    @Test func aReusedConnectionClosedBeforeTheAnswerIsRetriedOnceOnAFreshOne() async throws {
        try await withClient { (client, sink) async throws in
            #expect(try await post(client, on: loop).value().status == 200)
            sink.inject(.closeBeforeAnswer)
            // The race of a pooled connection: the server closes it as our request arrives.
            #expect(try await post(client, on: loop).value().status == 200)
            let received = sink.received
            #expect(received.count == 3)
            #expect(received.map(\.fault) == [nil, .closeBeforeAnswer, nil])
            #expect(received[0].clientPort == received[1].clientPort && received[1].clientPort != received[2].clientPort)
        }
    }

    @Test func aFreshConnectionClosedBeforeTheAnswerFails() async throws {
        try await withClient { (client, sink) async throws in
            sink.inject(.closeBeforeAnswer)
            let result = await post(client, on: loop)
            #expect(result.failure?.code == .connectionClosed, "\(result)")
            #expect(sink.received.count == 1, "not retried: it may have been the server's own doing")
        }
    }

    @Test func aConnectionBrokenMidAnswerFailsWithoutRetry() async throws {
        try await withClient { (client, sink) async throws in
            #expect(try await post(client, on: loop).value().status == 200)
            sink.inject(.closeMidResponse)
            let result = await post(client, on: loop)
            #expect(result.failure?.code == .connectionClosed, "\(result)")
            #expect(sink.received.count == 2)
            #expect(try await post(client, on: loop).value().status == 200, "the pool recovers")
        }
    }

    @Test func aSlowAnswerTimesOutAndTheNextRequestGetsANewConnection() async throws {
        try await withClient { (client, sink) async throws in
            #expect(try await post(client, on: loop).value().status == 200)  // the connection, made at leisure
            sink.inject(.delay(.seconds(10)))
            let started = ContinuousClock.now
            let result = await post(client, on: loop, timeout: .milliseconds(300))
            #expect(result.failure?.code == .deadlineExceeded, "\(result)")
            #expect(result.failure?.isTimeout == true)
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(try await post(client, on: loop).value().status == 200)
            let ports = sink.received.map(\.clientPort)
            #expect(ports.count == 3 && ports[2] != ports[1], "the timed-out connection was closed: \(ports)")
        }
    }

    @Test func aRefusedConnectionFailsAtOnce() async throws {
        let client = try Self.client(url: "https://127.0.0.1:1") { $0.connectTimeout = .seconds(5); $0.requestTimeout = .seconds(10) }
        let started = ContinuousClock.now
        let result = await post(client)
        #expect(result.failure?.code == .connectFailed, "\(result)")
        #expect(ContinuousClock.now - started < .seconds(3))
        await client.shutdown()
    }

    @Test func aServerThatNeverHandshakesTimesOutAfterTheConnectTimeout() async throws {
        // Accepts TCP connections and says nothing: the TLS handshake never finishes.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = silent.localAddress!.port!
        let client = try Self.client(url: "https://localhost:\(port)") { $0.connectTimeout = .milliseconds(300); $0.requestTimeout = .seconds(10) }
        let started = ContinuousClock.now
        let result = await post(client)
        #expect(result.failure?.code == .connectTimeout, "\(result)")
        #expect(result.failure?.isTimeout == true)
        #expect(ContinuousClock.now - started < .seconds(5))
        await client.shutdown()
        try await silent.close()
    }

    @Test func anUntrustedCertificateFailsTheHandshake() async throws {
        let sink = try await SegmentSink.start()
        let client = try Self.client(url: sink.url, trustTestCA: false)
        let result = await post(client)
        #expect(result.failure?.code == .tlsFailed, "\(result)")
        #expect(sink.received.isEmpty)
        await client.shutdown()
        await sink.stop()
    }

    @Test func aLargeBodyIsCappedAndTheConnectionStaysReusable() async throws {
        let large = "{\"message\":\"" + String(repeating: "x", count: 200 * 1024) + "\"}"
        try await withClient { (client, sink) async throws in
            sink.respond(.init(status: 400, body: large))
            let response = try await post(client, on: loop).value()
            #expect(response.status == 400)
            #expect(response.body.readableBytes == 64 * 1024)
            #expect(String(buffer: response.body) == String(large.prefix(64 * 1024)))
            sink.respond(.init())
            #expect(try await post(client, on: loop).value().status == 200)
            #expect(Set(sink.received.map(\.clientPort)).count == 1, "the rest was read, the connection reused")
        }
    }

    @Test func requestsBeyondTheLoopsShareWaitForAConnection() async throws {
        // Two connections over the group's loops: one per loop. Six at once on one loop take turns.
        try await withClient({ $0.maxConnections = MultiThreadedEventLoopGroup.singleton.makeIterator().reduce(0) { n, _ in n + 1 } }) { (client, sink) async throws in
            sink.respond(.init(delay: .milliseconds(50)))
            let results = await withTaskGroup(of: Result<UpstreamResponse, UpstreamClientError>.self) { group in
                for _ in 0..<6 { group.addTask { await post(client, on: loop) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.map { try? $0.value().status } == Array(repeating: 200, count: 6), "\(results.compactMap(\.failure))")
            #expect(Set(sink.received.map(\.clientPort)).count == 1, "one connection for this loop")
        }
    }

    @Test func shutdownFailsWhatIsInFlightAndEverythingLater() async throws {
        try await withClient { (client, sink) async throws in
            #expect(try await post(client, on: loop).value().status == 200)
            sink.inject(.delay(.seconds(10)))
            async let inFlight = post(client, on: loop)
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            await client.shutdown()
            #expect(await inFlight.failure?.code == .shutDown)
            // Not the sink's 10 s, nor NIOSSL's default 5 s wait for the busy peer's close_notify.
            #expect(ContinuousClock.now - started < .seconds(4))
            #expect(!client.isOpen)
            #expect(await post(client, on: loop).failure?.code == .shutDown)
        }
    }
}

extension Result {
    /// The success, or the error thrown untyped (typed throws trip `#expect` inside closures).
    func value() throws -> Success { try get() }

    /// The error of a failure, `nil` for a success.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
