import ConsentGate
import Foundation
import SegmentWire
import Testing

/// Hostile request bodies and headers through real sockets. Each gets its documented status (README,
/// "What the SDK gets back") with a JSON body that carries a message; nothing invalid reaches Segment;
/// the gateway keeps serving; and the real binary's memory stays bounded while it is hammered.
///
/// The gateways run in shadow mode, so every *valid* event is forwarded whatever its consent says:
/// what reaches the sink is exactly what input validation let through.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct HostileInputTests {
    /// One hostile request and what must come of it.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var path = "/v1/batch"
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        var body: [UInt8]
        var status: Int
        /// The error body's `code`; `nil` for 200 `{"success":true}`.
        var code: String?
        /// The `messageId`s of the events that must reach Segment, in order (200 only); no other event may.
        var forwarded: [String] = []
        /// A fragment the error message must contain (to tell which check refused the request).
        var messageContains: String?
        /// How many requests must reach Segment, when that is not simply "one if anything is forwarded".
        var upstreamRequests: Int?

        var description: String { name }
    }

    static let json = [("Content-Type", "application/json")]
    static let gzipped = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]

    /// A valid event that must go through beside the bad items of a batch.
    static let good = TestEvents.track(messageId: "good-1")

    static func batch(_ items: String...) -> [UInt8] { Array(TestEvents.batch(items + [good]).utf8) }

    static func track(_ fields: String) -> [UInt8] {
        Array(#"{"type":"track","event":"e","messageId":"bad-1",\#(fields)}"#.utf8)
    }

    static func badItem(_ fields: String) -> String {
        #"{"type":"track","event":"e","messageId":"bad-1",\#(fields)}"#
    }

    static func stamped(_ preferences: String) -> String {
        badItem(#""userId":"u","context":{"consent":{"categoryPreferences":\#(preferences)}}"#)
    }

    /// Every hostile case; built once (the 1 GB bomb is about 1 MB).
    static let cases: [Case] = {
        var cases: [Case] = []
        func add(_ name: String, path: String = "/v1/batch", headers: [(String, String)] = json, _ body: [UInt8], _ status: Int,
                 _ code: String?, forwarded: [String] = [], messageContains: String? = nil, upstreamRequests: Int? = nil) {
            cases.append(Case(name: name, path: path, headers: headers, body: body, status: status, code: code,
                              forwarded: forwarded, messageContains: messageContains, upstreamRequests: upstreamRequests))
        }
        let validBatch = Array(TestEvents.batch([good]).utf8)
        let gzippedBatch = HostileBodies.gzip(validBatch)

        // Compression.
        add("truncated gzip", headers: gzipped, Array(gzippedBatch.prefix(gzippedBatch.count / 2)), 400, "invalid_compression")
        add("gzip cut before its trailer", headers: gzipped, Array(gzippedBatch.dropLast(4)), 400, "invalid_compression")
        var corrupt = gzippedBatch
        corrupt[corrupt.count - 6] ^= 0xFF  // the CRC-32
        add("gzip with a wrong CRC", headers: gzipped, corrupt, 400, "invalid_compression")
        add("gzip followed by garbage", headers: gzipped, gzippedBatch + Array("garbage".utf8), 400, "invalid_compression")
        // Issue 19 (6): white space after the stream is trailing bytes too (a receiver may read them).
        add("gzip followed by a space", headers: gzipped, gzippedBatch + [0x20], 400, "invalid_compression",
            messageContains: "after the end")
        add("gzip followed by CRLF", headers: gzipped, gzippedBatch + Array("\r\n".utf8), 400, "invalid_compression",
            messageContains: "after the end")
        add("deflate followed by a line feed", headers: [("Content-Encoding", "deflate")], HostileBodies.zlib(validBatch) + [0x0A], 400,
            "invalid_compression")
        add("gzip followed by a second member", headers: gzipped, gzippedBatch + gzippedBatch, 400, "invalid_compression")
        add("10 MB gzip bomb", headers: gzipped, HostileBodies.zeroBomb(megabytes: 10), 413, "payload_too_large",
            messageContains: "decompressed")
        add("1 GB gzip bomb", headers: gzipped, HostileBodies.zeroBomb(megabytes: 1_024), 413, "payload_too_large")
        add("1 GB deflate bomb", headers: [("Content-Encoding", "deflate")], HostileBodies.zeroBomb(megabytes: 1_024, gzip: false),
            413, "payload_too_large")
        add("Content-Encoding: br", headers: [("Content-Encoding", "br")], validBatch, 415, "unsupported_encoding")
        add("Content-Encoding: gzip, gzip", headers: [("Content-Encoding", "gzip, gzip")], HostileBodies.gzip(gzippedBatch),
            415, "unsupported_encoding")
        add("Content-Encoding: compress", headers: [("Content-Encoding", "compress")], validBatch, 415, "unsupported_encoding")
        add("two Content-Encoding headers", headers: [("Content-Encoding", "gzip"), ("Content-Encoding", "identity")], gzippedBatch,
            415, "unsupported_encoding")
        add("Content-Encoding: gzip on a plain body", headers: gzipped, validBatch, 400, "invalid_compression")
        add("Content-Encoding: deflate on a plain body", headers: [("Content-Encoding", "deflate")], validBatch, 400, "invalid_compression")

        // Nesting.
        add("100 000 nested arrays", HostileBodies.nestedArrays(100_000), 400, "nesting_too_deep")
        add("100 000 unclosed arrays", HostileBodies.nestedArrays(100_000, closed: false), 400, "nesting_too_deep")
        add("100 000 unclosed objects", HostileBodies.nestedObjects(100_000), 400, "nesting_too_deep")
        add("10 000 nested arrays on a single-event route", path: "/v1/track", HostileBodies.deepEvent(10_000), 400, "nesting_too_deep")
        add("100 000 nested arrays, gzipped", headers: gzipped, HostileBodies.gzip(HostileBodies.nestedArrays(100_000)),
            400, "nesting_too_deep")

        // Text.
        for (name, bytes) in [
            ("a 0xFF byte", [0xFF] as [UInt8]), ("an overlong '/'", [0xC0, 0xAF]), ("a UTF-8 surrogate", [0xED, 0xA0, 0x80]),
            ("a code point above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]), ("a truncated sequence", [0xE2, 0x82]),
        ] {
            let body = Array(#"{"batch":[{"type":"track","event":"e","userId":"u","properties":{"note":""#.utf8) + bytes
                + Array(#""}}]}"#.utf8)
            add("invalid UTF-8: \(name)", body, 400, "invalid_json")
        }
        add("invalid UTF-8 in a key", [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], 400, "invalid_json")
        add("a raw line feed inside a string", batch(badItem("\"userId\":\"u\nv\"")), 400, "invalid_json")
        add("a NUL byte between items", Array(#"{"batch":[\#(good),"#.utf8) + [0] + Array("]}".utf8), 400, "invalid_json")
        for escape in [#"\ud800"#, #"\udc00"#, #"\ud800\u0041"#, #"\udbff\ud800"#, #"x\ud83d"#] {
            add("lone surrogate \(escape) in a value", batch(badItem(#""userId":"\#(escape)""#)), 400, "invalid_json")
        }
        add("lone surrogate in a key", batch(badItem(#""\ud800":1,"userId":"u""#)), 400, "invalid_json")
        add("lone surrogate on a single-event route", path: "/v1/track", track(#""userId":"\udfff""#), 400, "invalid_json")

        // Duplicate keys: interpreted ones make the event invalid (dropped; 400 on a single-event route).
        add("duplicate userId in a batch item", batch(badItem(#""userId":"u1","userId":"u2""#)), 200, nil, forwarded: ["good-1"])
        add("duplicate userId spelled with an escape", batch(badItem(#""userId":"u1","user\u0049d":"u2""#)), 200, nil,
            forwarded: ["good-1"])
        add("duplicate type in a batch item",
            batch(#"{"type":"track","type":"identify","event":"e","userId":"u","messageId":"bad-1"}"#), 200, nil, forwarded: ["good-1"])
        add("duplicate consent category", batch(stamped(#"{"Analytics":true,"Analytics":false}"#)), 200, nil, forwarded: ["good-1"])
        add("duplicate categoryPreferences",
            batch(badItem(#""userId":"u","context":{"consent":{"categoryPreferences":{},"categoryPreferences":{"Advertising":true}}}"#)),
            200, nil, forwarded: ["good-1"])
        add("duplicate batch key", Array(#"{"batch":[],"batch":[\#(good)]}"#.utf8), 400, "invalid_batch")
        add("duplicate userId on a single-event route", path: "/v1/track", track(#""userId":"u1","userId":"u2""#), 400, "invalid_event")
        add("duplicate uninterpreted key passes", batch(badItem(#""userId":"u","properties":{"a":1,"a":2}"#).replacingOccurrences(
            of: "bad-1", with: "dup-ok")), 200, nil, forwarded: ["dup-ok", "good-1"])

        // Identifiers.
        add("numeric userId passes", batch(badItem(#""userId":12345"#).replacingOccurrences(of: "bad-1", with: "num-ok")), 200, nil,
            forwarded: ["num-ok", "good-1"])
        add("object userId", batch(badItem(#""userId":{"id":"u"}"#)), 200, nil, forwarded: ["good-1"])
        add("array anonymousId", batch(badItem(#""anonymousId":["a"]"#)), 200, nil, forwarded: ["good-1"])
        add("boolean userId", batch(badItem(#""userId":true,"anonymousId":"a""#)), 200, nil, forwarded: ["good-1"])
        add("null userId and no anonymousId", batch(badItem(#""userId":null"#)), 200, nil, forwarded: ["good-1"])
        add("null userId beside an anonymousId passes",
            batch(badItem(#""userId":null,"anonymousId":"a""#).replacingOccurrences(of: "bad-1", with: "null-ok")), 200, nil,
            forwarded: ["null-ok", "good-1"])
        add("object userId on a single-event route", path: "/v1/track", track(#""userId":{"id":"u"}"#), 400, "invalid_event")
        add("null ids on a single-event route", path: "/v1/track", track(#""userId":null,"anonymousId":null"#), 400, "invalid_event")

        // Sizes and counts.
        add("10 MB string", Array(TestEvents.batch([HostileBodies.eventWithString(10 << 20)]).utf8), 413, "payload_too_large")
        add("10 MB string, gzipped", headers: gzipped, HostileBodies.gzip(TestEvents.batch([HostileBodies.eventWithString(10 << 20)])),
            413, "payload_too_large", messageContains: "decompressed")
        add("40 KB string in a batch item", batch(HostileBodies.eventWithString(40 * 1024)), 400, "event_too_large")
        add("40 KB string on a single-event route", path: "/v1/track", Array(HostileBodies.eventWithString(40 * 1024).utf8), 400,
            "event_too_large")
        add("3 000 events", Array(TestEvents.batch(Array(repeating: #"{"type":"track","event":"e","userId":"u"}"#, count: 3_000)).utf8),
            400, "too_many_events")

        // Shapes.
        add("batch items that are not objects", batch("1", #""two""#, "null", "[3]", "true", "{}"), 200, nil, forwarded: ["good-1"])
        add("only items that are not objects", Array(#"{"batch":[1,"two",null,[],false]}"#.utf8), 200, nil, upstreamRequests: 0)
        add("empty body", [], 400, "invalid_json")
        add("empty body on a single-event route", path: "/v1/identify", [], 400, "invalid_json")
        add("white space only", Array(" \r\n\t ".utf8), 400, "invalid_json")
        add("empty body, gzipped", headers: gzipped, HostileBodies.gzip([]), 400, "invalid_json")
        add("empty batch", Array(#"{"batch":[]}"#.utf8), 200, nil, upstreamRequests: 1)  // nothing to enforce: relayed as is
        add("batch that is not an array", Array(#"{"batch":{"type":"track"}}"#.utf8), 400, "invalid_batch")
        add("top level that is an array", Array("[\(good)]".utf8), 400, "invalid_batch")

        // Consent stamps.
        for (name, preferences) in [
            ("a string value", #"{"Analytics":"yes"}"#), ("a number value", #"{"Analytics":1}"#), ("a null value", #"{"Analytics":null}"#),
            ("an object value", #"{"Analytics":{"granted":true}}"#), ("an array", #"[true]"#), ("a string", #""all""#),
        ] {
            add("categoryPreferences with \(name)", batch(stamped(preferences)), 200, nil, forwarded: ["good-1"])
        }
        add("categoryPreferences with a non-bool value on a single-event route", path: "/v1/track",
            track(#""userId":"u","context":{"consent":{"categoryPreferences":{"Advertising":"false"}}}"#), 400, "invalid_event")
        add("shared categoryPreferences with a non-bool value",
            Array(TestEvents.batch([good], extra: #","context":{"consent":{"categoryPreferences":{"Advertising":0}}}"#).utf8),
            400, "invalid_batch")

        // Authorization.
        for (name, value) in [
            ("not base64", "Basic %%%not-base64"), ("base64 of invalid UTF-8", "Basic " + Data([0xFF, 0xFE, 0x3A]).base64EncodedString()),
            ("truncated base64", "Basic d2stdGVzdDo"), ("base64 with a space inside", "Basic d2st dGVzdDo="),
        ] {
            add("Basic header \(name)", headers: json + [("Authorization", value)], validBatch, 401, "invalid_authorization")
        }
        return cases
    }()

    // MARK: Checks

    /// The status, the JSON body and its message, what reached Segment, and that a normal request
    /// still succeeds afterwards.
    private func check(_ testCase: Case, on harness: GatewayHarness) async throws {
        harness.sink.reset()
        let reply = try await harness.post(testCase.path, body: testCase.body, headers: testCase.headers)
        checkReply(testCase, status: reply.status, body: reply.body)
        #expect(reply.headers.first(name: "Content-Type") == "application/json", "\(testCase)")
        let reached = harness.sink.received.flatMap(\.events).map { $0["messageId"] as? String ?? "<no messageId>" }
        #expect(reached == testCase.forwarded, "\(testCase): reached Segment \(reached)")
        let requests = testCase.upstreamRequests ?? (testCase.forwarded.isEmpty ? 0 : 1)
        #expect(harness.sink.received.count == requests, "\(testCase): \(harness.sink.received.count) upstream requests")
        try await expectStillServing(harness, after: testCase.name)
    }

    private func checkReply(_ testCase: Case, status: Int, body: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == testCase.status, "\(testCase): \(status) \(body.prefix(300))", sourceLocation: sourceLocation)
        let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect(object != nil, "\(testCase): the body is not a JSON object: \(body.prefix(300))", sourceLocation: sourceLocation)
        if let code = testCase.code {
            #expect(object?["success"] as? Bool == false, "\(testCase)", sourceLocation: sourceLocation)
            #expect(object?["code"] as? String == code, "\(testCase): \(body.prefix(300))", sourceLocation: sourceLocation)
            let message = object?["message"] as? String ?? ""
            #expect(!message.isEmpty, "\(testCase): no message", sourceLocation: sourceLocation)
            if let fragment = testCase.messageContains {
                #expect(message.contains(fragment), "\(testCase): \(message)", sourceLocation: sourceLocation)
            }
        } else {
            #expect(object?["success"] as? Bool == true, "\(testCase): \(body.prefix(300))", sourceLocation: sourceLocation)
        }
    }

    private func expectStillServing(_ harness: GatewayHarness, after name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        harness.sink.reset()
        let good = try await harness.post("/v1/batch", json: TestEvents.batch([TestEvents.track(messageId: "after")]))
        #expect(good.status == 200, "after \(name): the gateway stopped serving (\(good.status))", sourceLocation: sourceLocation)
        #expect(harness.sink.received.flatMap(\.events).map { $0["messageId"] as? String } == ["after"], "after \(name)",
                sourceLocation: sourceLocation)
        harness.sink.reset()
    }

    // MARK: In-process gateway, default limits

    /// Both inflating libraries (`ingress.inflater`) must give every documented answer.
    static let inflaters: [GatewayConfiguration.Ingress.InflaterChoice] = [.libdeflate, .zlib]

    @Test(arguments: inflaters)
    func everyHostileInputGetsItsDocumentedAnswer(inflater: GatewayConfiguration.Ingress.InflaterChoice) async throws {
        try await GatewayHarness.with({ $0.policy.rules.mode = .shadow; $0.ingress.inflater = inflater }) { harness in
            for testCase in Self.cases {
                try await check(testCase, on: harness)
            }
        }
    }

    @Test func aChunkedBodyPastTheLimitIs413() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            // 8 MiB of white space in 64 KiB chunks, no Content-Length: refused once 1 MiB has arrived.
            let reply = try await RawHTTPClient.postChunked(
                port: harness.addresses.ingressPort, path: "/v1/batch", chunkSize: 64 * 1024, chunkCount: 128,
                prefix: Array(#"{"batch":["#.utf8))
            #expect(reply.status == 413)
            #expect(reply.code == "payload_too_large")
            #expect(reply.message?.isEmpty == false)
            #expect(reply.headers["content-type"] == "application/json")
            // The rest is discarded for a short linger at most, never drained on and on
            // (anOversizedBodyClosesTheConnection). See theBinaryKeepsServingAndItsMemoryStaysBounded for the RSS.
            #expect(harness.sink.received.isEmpty)
            try await expectStillServing(harness, after: "the chunked body")

            // The same path with a chunked body under the limit goes through: the client above is honest.
            let small = try await RawHTTPClient.postChunked(
                port: harness.addresses.ingressPort, path: "/v1/batch", chunkSize: 1_000, chunkCount: 3,
                prefix: Array(#"{"batch":[\#(Self.good)"#.utf8), suffix: Array("]}".utf8))
            #expect(small.status == 200)
            #expect(harness.sink.received.flatMap(\.events).map { $0["messageId"] as? String } == ["good-1"])
        }
    }

    @Test func anOversizedBodyClosesTheConnection() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            // A keep-alive client streams 64 KiB every 5 ms (about 13 MB/s) for up to 12 s: past the 1 MiB
            // cap within a tenth of a second. Hummingbird alone would read and discard all of it to keep
            // the connection; the gateway discards it for the 5 s linger, answers 413 and closes.
            let upload = try await PersistentUpload.run(
                port: harness.addresses.ingressPort, path: "/v1/batch", prefix: Array(#"{"batch":["#.utf8),
                chunkSize: 64 * 1024, interval: .milliseconds(5), duration: .seconds(12))
            #expect(upload.status == 413)
            let answered = try #require(upload.answeredAfter)
            let closed = try #require(upload.closedAfter, "the connection stayed open after the 413 (\(upload.bytesSent) bytes sent)")
            #expect(closed - answered < .seconds(3), "closed \(closed - answered) after the 413")
            #expect(closed < .seconds(10), "closed only after \(closed)")
            #expect(harness.sink.received.isEmpty)
            try await expectStillServing(harness, after: "the closed upload")
        }
    }

    @Test func theConnectionOfAWholeOversizedBodyServesTheNextRequest() async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            // The client sends all of an oversized body (within the linger), reads the 413, then reuses the
            // connection: it serves the next request like any other.
            let port = harness.addresses.ingressPort
            let oversized = Array(#"{"batch":["#.utf8) + [UInt8](repeating: UInt8(ascii: " "), count: 1_500_000) + Array("]}".utf8)
            let next = Array(TestEvents.batch([TestEvents.track(messageId: "after-413")]).utf8)
            let answers = try await KeepAliveClient.exchange(
                port: port, requests: [KeepAliveClient.post(port: port, path: "/v1/batch", body: oversized), KeepAliveClient.post(port: port, path: "/v1/batch", body: next)])
            #expect(answers.first??.status == 413)
            #expect(answers.last??.status == 200, "the request after the 413 was cut off")
            #expect(harness.sink.received.flatMap(\.events).map { $0["messageId"] as? String } == ["after-413"])
        }
    }

    @Test(arguments: inflaters)
    func aGigabyteBombUnderTheWireLimitIsStoppedWhileInflating(inflater: GatewayConfiguration.Ingress.InflaterChoice) async throws {
        // With a 2 MiB cap the 1 GB bomb (about 1 MB) passes the wire check: the inflater must stop it.
        try await GatewayHarness.with({
            $0.policy.rules.mode = .shadow
            $0.ingress.maxBodyBytes = 2 << 20
            $0.ingress.inflater = inflater
        }) { harness in
            for gzip in [true, false] {
                let bomb = HostileBodies.zeroBomb(megabytes: 1_024, gzip: gzip)
                #expect(bomb.count < 2 << 20)
                try await check(
                    Case(name: "1 GB \(gzip ? "gzip" : "deflate") bomb under the wire limit",
                         headers: [("Content-Encoding", gzip ? "gzip" : "deflate")], body: bomb, status: 413, code: "payload_too_large",
                         messageContains: "decompressed"),
                    on: harness)
            }
        }
    }

    // MARK: The real binary: it keeps serving and its memory stays bounded

    /// VmRSS and VmHWM of a process, in bytes.
    static func memory(of pid: Int32) -> (rss: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return (words.count > 1 ? Int(words[1]) ?? 0 : 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    @Test func theBinaryKeepsServingAndItsMemoryStaysBounded() async throws {
        let sink = try await SegmentSink.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        // A 2 MiB cap, so that the 1 GB bombs reach the inflater instead of stopping at the wire limit.
        let gateway = try GatewayProcess(
            yaml: """
                ingress: {host: 127.0.0.1, port: 0, max_body_bytes: 2097152}
                upstream: {url: "\(sink.url)", ca_file: "\(TestCertificates.files.ca)", timeout_seconds: 5}
                admin: {host: 127.0.0.1, port: 0, token: hostile-admin-token}
                store: {kind: sqlite, sqlite: {path: "\(directory)/consent.sqlite"}}
                audit: {path: "\(directory)/audit.jsonl", hmac_key: hostile-hmac-key}
                policy: {mode: shadow}
                log: {level: info, format: json}  # "listening" (with the bound ports) is an info line
                """,
            directory: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await gateway.waitUntilListening()
        let pid = gateway.process.pid
        let client = HarnessClient.shared
        let normal = Array(TestEvents.batch([TestEvents.track()]).utf8)

        // Warm up with honest traffic, so pools, caches and the allocator settle before the baseline.
        for _ in 0..<50 {
            #expect(try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: normal, headers: Self.json).status == 200)
        }
        let before = Self.memory(of: pid)

        let rounds = 3
        for _ in 0..<rounds {
            for testCase in Self.cases {
                let reply = try await client.send(gateway.ingress + testCase.path, method: "POST", body: testCase.body, headers: testCase.headers)
                checkReply(testCase, status: reply.status, body: reply.body)
            }
            let bombs = [true, false].map { gzip in
                Case(name: "1 GB bomb through the inflater", headers: [("Content-Encoding", gzip ? "gzip" : "deflate")],
                     body: HostileBodies.zeroBomb(megabytes: 1_024, gzip: gzip), status: 413, code: "payload_too_large",
                     messageContains: "decompressed")
            }
            for bomb in bombs {
                let reply = try await client.send(gateway.ingress + bomb.path, method: "POST", body: bomb.body, headers: bomb.headers)
                checkReply(bomb, status: reply.status, body: reply.body)
            }
            let chunked = try await RawHTTPClient.postChunked(
                port: gateway.ingressPort, path: "/v1/batch", chunkSize: 64 * 1024, chunkCount: 128, prefix: Array(#"{"batch":["#.utf8))
            #expect(chunked.status == 413 && chunked.code == "payload_too_large")
            #expect(try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: normal, headers: Self.json).status == 200)
        }

        let after = Self.memory(of: pid)
        let growth = after.rss - before.rss
        print("""
            HostileInputTests RSS of consentgate (pid \(pid)): before \(before.rss >> 10) KiB, after \(after.rss >> 10) KiB \
            (growth \(growth >> 10) KiB), peak \(after.peak >> 10) KiB, over \(rounds) rounds of \(Self.cases.count + 3) hostile requests
            """)
        #expect(growth < 64 << 20, "RSS grew by \(growth >> 20) MiB")
        #expect(after.peak < before.rss + (128 << 20), "peak RSS \(after.peak >> 20) MiB")
        #expect(gateway.process.isRunning)
        #expect(try await client.send(gateway.admin + "/healthz", method: "GET", body: nil, headers: []).status == 200)
        #expect(try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: normal, headers: Self.json).status == 200)
        let status = await gateway.stop()
        await sink.stop()
        #expect(status == 0, "consentgate exited with \(String(describing: status)):\n\(gateway.log.suffix(2_000))")
    }
}
