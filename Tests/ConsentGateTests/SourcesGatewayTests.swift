import Foundation
import Testing

/// Sources through the real binary: one gateway serves an opt-in EU source (unknown subject: drop) to
/// the EU endpoint (sink A stands in for `https://events.eu1.segmentapis.com`), an opt-out US source
/// (unknown subject: forward) to the US endpoint (sink B, also the top-level `upstream.url`), and a key of
/// `ingress.write_keys` only that takes the top-level settings. Each source decides by its own policy,
/// reaches only its own upstream, and is named (never by its write key) in metrics, audit and the debugger.
@Suite(.timeLimit(.minutes(3)))
struct SourcesGatewayTests {
    static let euKey = "key-eu-9a1f0c", usKey = "key-us-47b2e8", backendKey = "key-backend-3c55d1"
    static let token = "sources-admin-token"

    @Test func eachSourceDecidesByItsOwnPolicyAndReachesOnlyItsOwnUpstream() async throws {
        let eu = try await SegmentSink.start(), us = try await SegmentSink.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sources-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gateway = try GatewayProcess(
            yaml: """
                ingress: {host: 127.0.0.1, port: 0, write_keys: [\(Self.backendKey)]}
                upstream: {url: "\(us.url)", ca_file: "\(TestCertificates.files.ca)", timeout_seconds: 15}
                admin: {host: 127.0.0.1, port: 0, token: \(Self.token)}
                store: {kind: sqlite, sqlite: {path: "\(directory)/consent.sqlite"}}
                audit: {path: "\(directory)/audit.jsonl", hmac_key: sources-hmac-key}
                policy: {on_unknown_subject: drop}
                log: {level: trace, format: json}
                sources:
                  - name: eu-web
                    write_keys: [\(Self.euKey)]
                    policy: {on_unknown_subject: drop}
                    upstream: {url: "\(eu.url)"}
                  - name: us-web
                    write_keys: [\(Self.usKey)]
                    policy: {on_unknown_subject: forward}
                    upstream: {url: "\(us.url)"}
                """,
            directory: directory)
        try await gateway.waitUntilListening()
        let client = HarnessClient.shared
        let admin = ["Authorization": "Bearer \(Self.token)"]
        #expect(
            try await client.send(
                gateway.admin + "/consent/subjects/alice", method: "PUT",
                body: #"{"categoryPreferences":{"Advertising":false,"Analytics":true}}"#, headers: admin
            ).status == 200)
        // Watch the debugger, so decisions are sampled into its feed.
        #expect(try await client.send(gateway.admin + "/debugger/state", method: "GET", headers: admin).status == 200)

        func send(_ key: String?, _ event: String, keyInBody: Bool = false) async throws -> Int {
            let extra = keyInBody ? #","writeKey":"\#(key ?? "")""# : ""
            let headers = key.map { keyInBody ? [:] : Dictionary(uniqueKeysWithValues: [TestEvents.basic($0)]) } ?? [:]
            return try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: TestEvents.batch([event], extra: extra), headers: headers)
                .status
        }
        let stamp = ["Advertising": false, "Analytics": true]
        // An unknown subject: the opt-in EU source and the top-level settings drop it, the opt-out US source forwards it.
        let strangerEU = UUID().uuidString, strangerUS = UUID().uuidString, strangerDefault = UUID().uuidString
        #expect(try await send(Self.euKey, TestEvents.track(userId: "stranger-1", messageId: strangerEU, stamp: stamp)) == 200)
        #expect(try await send(Self.usKey, TestEvents.track(userId: "stranger-2", messageId: strangerUS, stamp: stamp)) == 200)
        #expect(try await send(Self.backendKey, TestEvents.track(userId: "stranger-3", messageId: strangerDefault, stamp: stamp)) == 200)
        // A known, consistent subject goes to each source's own upstream (the EU key also from the body).
        let aliceEU = UUID().uuidString, aliceEUBody = UUID().uuidString, aliceUS = UUID().uuidString, aliceDefault = UUID().uuidString
        #expect(try await send(Self.euKey, TestEvents.track(userId: "alice", messageId: aliceEU, stamp: stamp)) == 200)
        #expect(try await send(Self.euKey, TestEvents.track(userId: "alice", messageId: aliceEUBody, stamp: stamp), keyInBody: true) == 200)
        #expect(try await send(Self.usKey, TestEvents.track(userId: "alice", messageId: aliceUS, stamp: stamp)) == 200)
        #expect(try await send(Self.backendKey, TestEvents.track(userId: "alice", messageId: aliceDefault, stamp: stamp)) == 200)
        // Today's refusals stand.
        let unknownKey = try await client.send(
            gateway.ingress + "/v1/batch", method: "POST", body: TestEvents.batch([TestEvents.track()], extra: ""),
            headers: Dictionary(uniqueKeysWithValues: [TestEvents.basic("key-nobody")]))
        #expect(unknownKey.status == 401 && unknownKey.body.contains("unknown_write_key"))
        let noKey = try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: TestEvents.batch([TestEvents.track()], extra: ""))
        #expect(noKey.status == 401 && noKey.body.contains("missing_write_key"))

        // Each upstream received exactly its sources' events.
        #expect(eu.received.flatMap(\.messageIds).sorted() == [aliceEU, aliceEUBody].sorted())
        #expect(us.received.flatMap(\.messageIds).sorted() == [strangerUS, aliceUS, aliceDefault].sorted())
        #expect(eu.received.allSatisfy { $0.headers[.authorization] == nil || $0.headers[.authorization] == TestEvents.basic(Self.euKey).1 })

        let metrics = try await client.send(gateway.admin + "/metrics", method: "GET").body
        let state = try await client.send(gateway.admin + "/debugger/state", method: "GET", headers: admin).body
        let status = await gateway.stop()
        await eu.stop()
        await us.stop()
        #expect(status == 0)

        let samples = ObservabilityTests.samples(metrics)
        #expect(samples[#"consentgate_events_total{source="eu-web",verdict="unknown_subject",action="drop"}"#] == 1)
        #expect(samples[#"consentgate_events_total{source="eu-web",verdict="consistent",action="forward"}"#] == 2)
        #expect(samples[#"consentgate_events_total{source="us-web",verdict="unknown_subject",action="forward"}"#] == 1)
        #expect(samples[#"consentgate_events_total{source="us-web",verdict="unknown_subject",action="drop"}"#] == 0)
        #expect(samples[#"consentgate_events_total{source="us-web",verdict="consistent",action="forward"}"#] == 1)
        #expect(samples[#"consentgate_events_total{source="default",verdict="unknown_subject",action="drop"}"#] == 1)
        #expect(samples[#"consentgate_events_total{source="default",verdict="consistent",action="forward"}"#] == 1)

        // The audit log names the source of each dropped event; the debugger names each decision's source.
        let audit = try String(contentsOfFile: directory + "/audit.jsonl", encoding: .utf8)
        let records = audit.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let audited = records.map { "\($0["source"] ?? "none")/\($0["verdict"] ?? "")/\($0["action"] ?? "")" }.sorted()
        #expect(audited == ["default/unknown_subject/drop", "eu-web/unknown_subject/drop"])
        for name in ["eu-web", "us-web", "default"] { #expect(state.contains(#""source":"\#(name)""#), "the debugger names \(name)") }

        // No write key in metrics, the audit log, the debugger or the log.
        for key in [Self.euKey, Self.usKey, Self.backendKey, "key-nobody"] {
            #expect(!metrics.contains(key) && !audit.contains(key) && !state.contains(key), "\(key) appears in metrics, audit or debugger")
            #expect(!gateway.log.contains(key), "\(key) appears in the log")
        }
    }
}
