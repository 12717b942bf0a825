import Foundation
import Testing

/// Metrics, the live decision view's data, and readiness, after a known mix of traffic.
@Suite(.timeLimit(.minutes(2)))
struct ObservabilityTests {
    /// Parses a Prometheus exposition into `name{labels}` → value.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    func scrape(_ harness: GatewayHarness) async throws -> String {
        let reply = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET)
        #expect(reply.status == 200)
        #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        return reply.body
    }

    /// Two batches (three consistent events, one over-granted), one invalid body, one unknown path.
    func sendKnownMix(_ harness: GatewayHarness) async throws {
        try await harness.putConsent("alice", ["Advertising": false, "Analytics": true])
        try await harness.putConsent("bob", ["Advertising": true, "Analytics": true])
        let alice = TestEvents.track(userId: "alice", stamp: ["Advertising": false, "Analytics": true])
        let aliceOver = TestEvents.track(userId: "alice", stamp: ["Advertising": true, "Analytics": true])
        let bob = TestEvents.track(userId: "bob", stamp: ["Advertising": true, "Analytics": true])
        #expect(try await harness.post("/v1/batch", json: TestEvents.batch([alice, bob])).status == 200)
        #expect(try await harness.post("/v1/batch", json: TestEvents.batch([aliceOver, bob])).status == 200)
        #expect(try await harness.post("/v1/batch", json: "{nope").status == 400)
        #expect(try await harness.post("/v1/nope", json: "{}").status == 404)
    }

    @Test func countersEqualWhatWasSent() async throws {
        try await GatewayHarness.with { harness in
            try await sendKnownMix(harness)
            let text = try await scrape(harness)
            let s = Self.samples(text)
            #expect(s[#"consentgate_requests_total{route="batch",status="200"}"#] == 2)
            #expect(s[#"consentgate_requests_total{route="batch",status="400"}"#] == 1)
            #expect(s[#"consentgate_requests_total{route="unknown",status="404"}"#] == 1)
            #expect(s[#"consentgate_events_total{source="default",verdict="consistent",action="forward"}"#] == 3)
            #expect(s[#"consentgate_events_total{source="default",verdict="mismatch",action="drop"}"#] == 1)
            #expect(s[#"consentgate_consent_mismatch_total{source="default",category="Advertising",direction="over"}"#] == 1)
            #expect(s[#"consentgate_consent_mismatch_total{source="default",category="Analytics",direction="over"}"#] == 0)
            #expect(s[#"consentgate_cache_lookups_total{result="miss"}"#] == 2)
            #expect(s[#"consentgate_cache_lookups_total{result="hit"}"#] == 2)
            #expect(s["consentgate_cache_entries"] == 2)
            #expect(s[#"consentgate_store_request_duration_seconds_count{outcome="found"}"#] == 2)
            #expect(s[#"consentgate_upstream_request_duration_seconds_count{status_class="2xx"}"#] == 2)
            #expect(s["consentgate_request_body_bytes_count"] == 3)
            #expect(s["consentgate_inflight_requests"] == 0)
            #expect(text.contains(#"consentgate_store_request_duration_seconds_bucket{outcome="found",le="0.00005"}"#))
            #expect(!text.contains("alice") && !text.contains("bob") && !text.contains("wk-test"))
        }
    }

    @Test func promtoolAcceptsTheExposition() async throws {
        try await GatewayHarness.with { harness in
            try await sendKnownMix(harness)
            let text = try await scrape(harness)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
            try text.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let result = await TestProcess.runDetached(["/bin/sh", "-c", "promtool check metrics < '\(file.path)'"])
            #expect(result.exitCode == 0, "promtool (Debian package prometheus) must accept the scrape:\n\(result.output)")
        }
    }

    @Test func theDecisionViewShowsHashedDecisionsToTokenHoldersOnly() async throws {
        try await GatewayHarness.with { harness in
            let url = harness.admin + "/debugger/state"
            #expect(try await harness.send(url, body: nil, headers: [], method: .GET).status == 401)
            let bearer = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]
            #expect(try await harness.send(url, body: nil, headers: bearer, method: .GET).status == 200)  // starts watching
            try await sendKnownMix(harness)
            let cookie = [("Cookie", "other=1; consentgate_admin_token=\(GatewayHarness.adminToken)")]
            let state = try await harness.send(url, body: nil, headers: cookie, method: .GET)
            #expect(state.status == 200)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(state.body.utf8)) as? [String: Any])
            let decisions = try #require(object["decisions"] as? [[String: Any]])
            #expect(decisions.count == 4)
            #expect(decisions.first?["verdict"] as? String == "consistent")  // newest first: bob of batch 2
            #expect(decisions.contains { $0["verdict"] as? String == "mismatch" && $0["over"] as? [String] == ["Advertising"] })
            #expect(decisions.allSatisfy { ($0["subject"] as? String)?.count == 16 })
            #expect(!state.body.contains("alice") && !state.body.contains("bob"))
            let page = try await harness.send(harness.admin + "/debugger", body: nil, headers: [], method: .GET)
            #expect(page.status == 200)
            #expect(page.body.contains("<title>consentgate"))
            #expect(!page.body.contains("src=\"http"), "the page loads no external assets")
        }
    }

    @Test func readinessFollowsTheStore() async throws {
        try await GatewayHarness.with { harness in
            let url = harness.admin + "/readyz"
            #expect(try await harness.send(url, body: nil, headers: [], method: .GET).status == 200)
            #expect(try await harness.send(harness.admin + "/healthz", body: nil, headers: [], method: .GET).status == 200)
            // consentgate_ready follows each check (the alert ConsentgateNotReady reads it).
            #expect(Self.samples(try await scrape(harness))["consentgate_ready"] == 1)
            try FileManager.default.removeItem(atPath: harness.configuration.store.sqlitePath)
            let notReady = try await harness.send(url, body: nil, headers: [], method: .GET)
            #expect(notReady.status == 503)
            #expect(notReady.body.contains("consent store"))
            #expect(Self.samples(try await scrape(harness))["consentgate_ready"] == 0)
        }
    }
}
