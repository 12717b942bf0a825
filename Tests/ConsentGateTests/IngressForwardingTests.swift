import Foundation
import SegmentWire
import Testing

/// The path from an SDK to Segment through real sockets: what reaches the TLS upstream, byte for byte.
@Suite(.timeLimit(.minutes(2)))
struct IngressForwardingTests {
    @Test func forwardsTheOriginalBytesWhenNothingChanged() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let body = TestEvents.batch([TestEvents.track(), TestEvents.track(userId: "user-2"), TestEvents.track(userId: nil)])
            let reply = try await harness.post(
                "/v1/batch", json: body,
                headers: [("Content-Type", "application/json"), TestEvents.basic("wk-test"), ("User-Agent", "analytics-python/2.3.4")])
            #expect(reply.status == 200)
            #expect(reply.body == #"{"success":true}"#)
            let received = try #require(harness.sink.received.first)
            #expect(harness.sink.received.count == 1)
            #expect(received.path == "/v1/batch")
            #expect(received.body == Array(body.utf8))
            #expect(received.headers[.authorization] == TestEvents.basic("wk-test").1)
            #expect(received.headers[.userAgent] == "analytics-python/2.3.4")
            #expect(received.headers[.contentType] == "application/json")
            #expect(received.headers[.contentEncoding] == nil)
        }
    }

    @Test func forwardsGzipBodiesAsReceived() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let body = Array(TestEvents.batch((0..<50).map { TestEvents.track(userId: "user-\($0)") }).utf8)
            let gzipped = body.withUnsafeBytes { Gzip.compress($0) }
            let reply = try await harness.post(
                "/v1/batch", body: gzipped, headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")])
            #expect(reply.status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(received.body == gzipped)
            #expect(received.headers[.contentEncoding] == "gzip")
        }
    }

    @Test func reencodesWithoutTheInvalidEvents() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let first = TestEvents.track(userId: "a")
            let invalid = TestEvents.track(userId: nil, anonymousId: nil)
            let last = TestEvents.track(userId: "b")
            let envelope = #","sentAt":"2026-11-29T10:00:01.000Z","context":{"device":{"type":"phone"}},"integrations":{"All":true}"#
            let reply = try await harness.post("/v1/batch", json: TestEvents.batch([first, invalid, last], extra: envelope))
            #expect(reply.status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(String(decoding: received.body, as: UTF8.self) == TestEvents.batch([first, last], extra: envelope))
        }
    }

    @Test func reencodedGzipBatchesAreGzippedAgain() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let kept = TestEvents.track(userId: "a")
            let body = Array(TestEvents.batch([kept, #"{"type":"track","userId":"x"}"#]).utf8)
            let reply = try await harness.post(
                "/v1/batch", body: body.withUnsafeBytes { Gzip.compress($0) },
                headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")])
            #expect(reply.status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(received.headers[.contentEncoding] == "gzip")
            #expect(String(decoding: received.json, as: UTF8.self) == TestEvents.batch([kept]))
        }
    }

    @Test func sendsNothingWhenEveryEventIsDropped() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let reply = try await harness.post("/v1/batch", json: TestEvents.batch([#"{"type":"track","userId":"x"}"#, "42"]))
            #expect(reply.status == 200)
            #expect(reply.body == #"{"success":true}"#)
            #expect(harness.sink.received.isEmpty)
        }
    }

    @Test(arguments: [
        ("/v1/track", "/v1/track"), ("/v1/t", "/v1/t"), ("/v1/import/", "/v1/import/"), ("/v1/b", "/v1/b"),
        ("/v1/identify", "/v1/identify"), ("/v1/page/", "/v1/page/"),
    ])
    func acceptsEveryTrackingRoute(path: String, forwardedPath: String) async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let isBatch = path.contains("import") || path.hasSuffix("/b")
            let event = path.contains("identify") ? #"{"type":"identify","userId":"u","traits":{"plan":"pro"}}"#
                : path.contains("page") ? #"{"userId":"u","name":"Home"}"# : TestEvents.track()
            let body = isBatch ? TestEvents.batch([event]) : event
            let reply = try await harness.post(path, json: body, headers: [("Content-Type", "text/plain")])
            #expect(reply.status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(received.path == forwardedPath)
            #expect(received.body == Array(body.utf8))
            #expect(received.headers[.contentType] == "text/plain")
        }
    }
}
