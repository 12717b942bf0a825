import Foundation
import SegmentWire
import Testing

/// Every bad input gets its documented status and JSON body, nothing of it is forwarded,
/// and the gateway keeps serving.
@Suite(.timeLimit(.minutes(3)))
struct IngressErrorTests {
    /// Posts a bad request, checks its answer, then checks a good request still goes through.
    private func expectRefused(
        _ harness: GatewayHarness, path: String = "/v1/batch", body: [UInt8],
        headers: [(String, String)] = [("Content-Type", "application/json")],
        status: Int, code: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let reply = try await harness.post(path, body: body, headers: headers)
        #expect(reply.status == status, "\(reply.body)", sourceLocation: sourceLocation)
        #expect(reply.code == code, "\(reply.body)", sourceLocation: sourceLocation)
        #expect(reply.headers.first(name: "Content-Type") == "application/json", sourceLocation: sourceLocation)
        let message = (try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])?["message"] as? String
        #expect(message?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(harness.sink.received.isEmpty, "nothing of a refused request is forwarded", sourceLocation: sourceLocation)
        let good = try await harness.post("/v1/batch", json: TestEvents.batch([TestEvents.track()]))
        #expect(good.status == 200, "the gateway keeps serving", sourceLocation: sourceLocation)
        harness.sink.reset()
    }

    @Test func invalidJSONIs400() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            try await expectRefused(harness, body: Array(#"{"batch":[{"type":"track",}]}"#.utf8), status: 400, code: "invalid_json")
            try await expectRefused(harness, body: Array("not json".utf8), status: 400, code: "invalid_json")
            try await expectRefused(harness, body: [], status: 400, code: "invalid_json")
            try await expectRefused(harness, body: Array(#"{"batch":{}}"#.utf8), status: 400, code: "invalid_batch")
            try await expectRefused(harness, body: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], status: 400, code: "invalid_json")
        }
    }

    @Test func segmentLimitsAre400() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            // One event over 32 KB on a single-event route and inside a batch.
            let big = TestEvents.track(padding: 33 * 1024)
            try await expectRefused(harness, path: "/v1/track", body: Array(big.utf8), status: 400, code: "event_too_large")
            try await expectRefused(harness, body: Array(TestEvents.batch([big]).utf8), status: 400, code: "event_too_large")
            // A batch over 500 KB made of events under 32 KB.
            let events = (0..<30).map { TestEvents.track(userId: "u\($0)", padding: 20 * 1024) }
            try await expectRefused(harness, body: Array(TestEvents.batch(events).utf8), status: 400, code: "batch_too_large")
            // 2 501 events.
            let many = TestEvents.batch(Array(repeating: #"{"type":"track","event":"e","userId":"u"}"#, count: 2_501))
            try await expectRefused(harness, body: Array(many.utf8), status: 400, code: "too_many_events")
            // Limits apply to decompressed bytes.
            let gzipped = Array(TestEvents.batch(events).utf8).withUnsafeBytes { Gzip.compress($0) }
            try await expectRefused(
                harness, body: gzipped, headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                status: 400, code: "batch_too_large")
        }
    }

    @Test func gzipBombIs413() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let zeros = [UInt8](repeating: 0x20, count: 10 << 20)
            let bomb = zeros.withUnsafeBytes { Gzip.compress($0, level: 9) }
            #expect(bomb.count < 64 * 1024)
            try await expectRefused(
                harness, body: bomb, headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                status: 413, code: "payload_too_large")
            try await expectRefused(harness, body: zeros, status: 413, code: "payload_too_large")
        }
    }

    @Test func brokenCompressionIsRefused() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let gzipped = Array(TestEvents.batch([TestEvents.track()]).utf8).withUnsafeBytes { Gzip.compress($0) }
            try await expectRefused(
                harness, body: Array(gzipped.prefix(gzipped.count / 2)), headers: [("Content-Encoding", "gzip")],
                status: 400, code: "invalid_compression")
            try await expectRefused(
                harness, body: Array(TestEvents.batch([TestEvents.track()]).utf8), headers: [("Content-Encoding", "br")],
                status: 415, code: "unsupported_encoding")
        }
    }

    @Test func invalidSingleEventIs400() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            try await expectRefused(
                harness, path: "/v1/track", body: Array(#"{"type":"track","event":"e"}"#.utf8), status: 400, code: "invalid_event")
            try await expectRefused(
                harness, path: "/v1/track", body: Array(#"{"userId":"u"}"#.utf8), status: 400, code: "invalid_event")
        }
    }

    @Test func unknownPathsAre404AndOtherMethods405() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let notFound = try await harness.post("/v1/nope", json: "{}")
            #expect(notFound.status == 404)
            #expect(notFound.code == "not_found")
            let root = try await harness.post("/", json: "{}")
            #expect(root.status == 404)
            let get = try await harness.send(harness.ingress + "/v1/batch", body: nil, headers: [], method: .GET)
            #expect(get.status == 405)
            #expect(get.code == "method_not_allowed")
            #expect(get.headers.first(name: "Allow") == "POST, OPTIONS")
            #expect(harness.sink.received.isEmpty)
        }
    }

    @Test func corsPreflightIsAnswered() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let reply = try await harness.send(
                harness.ingress + "/v1/t", body: nil,
                headers: [("Origin", "https://shop.example"), ("Access-Control-Request-Method", "POST"),
                          ("Access-Control-Request-Headers", "content-type")],
                method: .OPTIONS)
            #expect(reply.status == 204)
            #expect(reply.headers.first(name: "Access-Control-Allow-Origin") == "https://shop.example")
            #expect(reply.headers.first(name: "Access-Control-Allow-Methods") == "POST, OPTIONS")
            #expect(reply.headers.first(name: "Access-Control-Allow-Headers") == "content-type")
            let post = try await harness.post(
                "/v1/t", json: TestEvents.track(), headers: [("Content-Type", "text/plain"), ("Origin", "https://shop.example")])
            #expect(post.headers.first(name: "Access-Control-Allow-Origin") == "https://shop.example")
        }
    }

    @Test func writeKeyAllowlist() async throws {
        try await GatewayHarness.with({ $0.policy.rules.mode = .shadow; $0.ingress.writeKeys = ["good-key"] }) { harness in
            let batch = Array(TestEvents.batch([TestEvents.track()], extra: "").utf8)
            try await expectRefusedWithKey(harness, body: batch, headers: [], code: "missing_write_key")
            try await expectRefusedWithKey(harness, body: batch, headers: [TestEvents.basic("other")], code: "unknown_write_key")
            let notBase64 = try await harness.post("/v1/batch", body: batch, headers: [("Authorization", "Basic %%%not-base64")])
            #expect(notBase64.status == 401)
            #expect(notBase64.code == "invalid_authorization")

            #expect(try await harness.post("/v1/batch", body: batch, headers: [TestEvents.basic("good-key")]).status == 200)
            let noColon = ("Authorization", "Basic " + Data("good-key".utf8).base64EncodedString())
            #expect(try await harness.post("/v1/batch", body: batch, headers: [noColon]).status == 200)
            let inBody = TestEvents.batch([TestEvents.track()], extra: #","writeKey":"good-key""#)
            #expect(try await harness.post("/v1/batch", json: inBody).status == 200)
            #expect(harness.sink.received.count == 3)
        }
    }

    private func expectRefusedWithKey(
        _ harness: GatewayHarness, body: [UInt8], headers: [(String, String)], code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let reply = try await harness.post("/v1/batch", body: body, headers: headers)
        #expect(reply.status == 401, sourceLocation: sourceLocation)
        #expect(reply.code == code, sourceLocation: sourceLocation)
        #expect(harness.sink.received.isEmpty, sourceLocation: sourceLocation)
    }
}
