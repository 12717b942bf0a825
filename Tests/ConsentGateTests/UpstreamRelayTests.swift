import Foundation
import Testing

/// Segment's answer reaches the SDK so that it retries exactly when it should.
@Suite(.timeLimit(.minutes(2)))
struct UpstreamRelayTests {
    let body = TestEvents.batch([TestEvents.track()])

    @Test func rateLimitIsRelayedWithItsHeaders() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            harness.sink.respond(.init(status: 429, headers: [("Retry-After", "7"), ("X-RateLimit-Reset", "9")], body: "{}"))
            let reply = try await harness.post("/v1/batch", json: body)
            #expect(reply.status == 429)
            #expect(reply.headers.first(name: "Retry-After") == "7")
            #expect(reply.headers.first(name: "X-RateLimit-Reset") == "9")
            #expect(reply.code == "rate_limited")
        }
    }

    @Test func upstreamServerErrorsBecome502WithRetryAfter() async throws {
        try await GatewayHarness.with({ $0.policy.rules.mode = .shadow; $0.upstream.retryAfterSeconds = 3 }) { harness in
            for status in [500, 503] {
                harness.sink.respond(.init(status: status, body: "{}"))
                let reply = try await harness.post("/v1/batch", json: body)
                #expect(reply.status == 502)
                #expect(reply.headers.first(name: "Retry-After") == "3")
                #expect(reply.code == "upstream_error")
            }
        }
    }

    @Test func upstreamTimeoutBecomes503WithRetryAfter() async throws {
        try await GatewayHarness.with({ $0.policy.rules.mode = .shadow; $0.upstream.timeoutSeconds = 0.3 }) { harness in
            harness.sink.respond(.init(delay: .seconds(2)))
            let reply = try await harness.post("/v1/batch", json: body)
            #expect(reply.status == 503)
            #expect(reply.code == "upstream_timeout")
            #expect(reply.headers.first(name: "Retry-After") != nil)
        }
    }

    @Test func unreachableUpstreamBecomes502() async throws {
        try await GatewayHarness.with({ $0.policy.rules.mode = .shadow; $0.upstream.url = "https://127.0.0.1:1" }) { harness in
            let reply = try await harness.post("/v1/batch", json: body)
            #expect(reply.status == 502)
            #expect(reply.code == "upstream_unreachable")
            #expect(reply.headers.first(name: "Retry-After") != nil)
        }
    }

    @Test func anUnreachableUpstreamFailsAfterTheConnectTimeoutNotTheWholeDeadline() async throws {
        // Connection attempts are retried until the connect timeout; a 30 s exchange deadline must not make
        // every request of an outage wait 30 s for its 502.
        try await GatewayHarness.with({
            $0.policy.rules.mode = .shadow
            $0.upstream.url = "https://127.0.0.1:1"
            $0.upstream.timeoutSeconds = 30
            $0.upstream.connectTimeoutSeconds = 0.5
        }) { harness in
            let started = ContinuousClock.now
            let reply = try await harness.post("/v1/batch", json: body)
            let waited = ContinuousClock.now - started
            #expect(reply.status == 502)
            #expect(reply.code == "upstream_unreachable")
            #expect(waited < .seconds(8), "waited \(waited)")
        }
    }

    @Test func upstreamBadRequestIsRelayed() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            harness.sink.respond(.init(status: 400, body: #"{"code":"invalid_request","message":"no"}"#))
            let reply = try await harness.post("/v1/batch", json: body)
            #expect(reply.status == 400)
            #expect(reply.body == #"{"code":"invalid_request","message":"no"}"#)
        }
    }

    @Test func untrustedUpstreamCertificateIsNeverUsed() async throws {
        // Without the test CA the sink's certificate does not verify: nothing is sent, the SDK is told to retry.
        try await GatewayHarness.with({ $0.policy.rules.mode = .shadow; $0.upstream.caFile = "" }) { harness in
            let reply = try await harness.post("/v1/batch", json: body)
            #expect(reply.status == 502)
            #expect(harness.sink.received.isEmpty)
        }
    }
}
