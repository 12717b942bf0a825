import ConsentGate
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@Suite(.timeLimit(.minutes(2)))
struct HTTPStoreGatewayTests {
    static func batch(_ subject: String) -> String {
        TestEvents.batch([TestEvents.track(userId: subject, anonymousId: nil, stamp: ["Advertising": true, "Analytics": true])])
    }

    @Test func readsTheServiceAndForgetsWhatTheWebhookNames() async throws {
        let service = try await CustomerConsentService.start()
        service.set("user-1", #"{"consent":{"purposes":{"Advertising":"ACTIVE","Analytics":"ALWAYS_ACTIVE"}}}"#)
        let harness = try await GatewayHarness.start { configuration in
            configuration.store.kind = .http
            configuration.store.http.urlTemplate = service.urlTemplate
            configuration.store.http.preferencesPointer = "/consent/purposes"
            configuration.store.http.statusGranted = ["ACTIVE", "ALWAYS_ACTIVE"]
            configuration.store.http.statusDenied = ["OPT_OUT", "WITHDRAWN", "EXPIRED", "NO_CONSENT", "PENDING"]
            configuration.store.http.breakerFailureThreshold = 2
            configuration.store.http.breakerOpenSeconds = 60
        }
        do {
            let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)"), ("Content-Type", "application/json")]
            #expect(try await harness.post("/v1/batch", json: Self.batch("user-1")).status == 200)
            #expect(harness.sink.received.count == 1)

            // The platform withdraws; the cached grant holds until the platform pushes the change.
            service.set("user-1", #"{"consent":{"purposes":{"Advertising":"WITHDRAWN","Analytics":"ACTIVE"}}}"#)
            harness.sink.reset()
            _ = try await harness.post("/v1/batch", json: Self.batch("user-1"))
            #expect(harness.sink.received.count == 1)

            let unauthorized = try await harness.send(
                harness.admin + "/consent/invalidate", body: Array(#"{"subjects":["user-1"]}"#.utf8), headers: [], method: .POST)
            #expect(unauthorized.status == 401)
            let invalid = try await harness.send(
                harness.admin + "/consent/invalidate", body: Array(#"{"subjects":"user-1"}"#.utf8), headers: auth, method: .POST)
            #expect(invalid.status == 400)
            let pushed = try await harness.send(
                harness.admin + "/consent/invalidate", body: Array(#"{"subjects":["user-1","someone-else"]}"#.utf8), headers: auth,
                method: .POST)
            #expect(pushed.status == 200)
            #expect(pushed.body == #"{"invalidated":2}"#)
            harness.sink.reset()
            #expect(try await harness.post("/v1/batch", json: Self.batch("user-1")).status == 200)
            #expect(harness.sink.received.isEmpty, "the withdrawn category must be enforced after the webhook")

            // The store is read-only for consentgate: reads work, writes say so.
            let read = try await harness.send(harness.admin + "/consent/subjects/user-1", body: nil, headers: auth, method: .GET)
            #expect(read.status == 200)
            #expect(read.body.contains(#""Advertising":false"#))
            let write = try await harness.send(
                harness.admin + "/consent/subjects/user-1", body: Array(#"{"categoryPreferences":{"Advertising":true}}"#.utf8),
                headers: auth, method: .PUT)
            #expect(write.status == 405)
            #expect(write.code == "store_read_only")

            // The service fails: unknown subjects are unverifiable (503), never "unknown"; the breaker opens.
            service.fail(with: 500)
            for index in 0..<3 {
                let reply = try await harness.post("/v1/batch", json: Self.batch("new-\(index)"))
                #expect(reply.status == 503)
            }
            let asked = service.requests
            let whileOpen = try await harness.post("/v1/batch", json: Self.batch("new-x"))
            #expect(whileOpen.status == 503)
            #expect(service.requests == asked, "an open breaker does not ask the service")
            let ready = try await harness.send(harness.admin + "/readyz", body: nil, headers: [], method: .GET)
            #expect(ready.status == 503)
        } catch {
            await harness.stop()
            await service.stop()
            throw error
        }
        await harness.stop()
        await service.stop()
    }
}

@Suite struct StoreConfigurationTests {
    static func load(_ yaml: String, environment: [String: String] = [:]) async throws -> GatewayConfiguration {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await GatewayConfiguration.load(file: path, environment: environment)
    }

    @Test func readsThePostgresAndHTTPKeysAndRedactsTheirSecrets() async throws {
        let configuration = try await Self.load(
            """
            store:
              kind: postgres
              postgres:
                url: postgres://app:s3cret-pass@db.internal:5432/consent
                pool_size: 12
                channel: my_channel
                timeout_seconds: 1.5
              http:
                url_template: https://consent.example.com/v1/{subject}
                headers: ["Authorization: Bearer top-secret-token", "X-Tenant: acme"]
                preferences_pointer: /data/purposes
                status_mapping:
                  granted: [ACTIVE, ALWAYS_ACTIVE]
                  denied: [OPT_OUT]
                timeout_seconds: 3
                max_concurrent: 7
                breaker:
                  failure_threshold: 4
                  open_seconds: 20
            """)
        #expect(configuration.store.kind == .postgres)
        #expect(configuration.store.postgres.poolSize == 12)
        #expect(configuration.store.postgres.channel == "my_channel")
        #expect(configuration.store.postgres.timeoutSeconds == 1.5)
        #expect(configuration.store.http.headers == [.init(name: "Authorization", value: "Bearer top-secret-token"), .init(name: "X-Tenant", value: "acme")])
        #expect(configuration.store.http.statusGranted == ["ACTIVE", "ALWAYS_ACTIVE"])
        #expect(configuration.store.http.maxConcurrent == 7)
        #expect(configuration.store.http.breakerFailureThreshold == 4)
        #expect(configuration.store.http.breakerOpenSeconds == 20)
        let description = configuration.redactedDescription
        #expect(!description.contains("s3cret-pass"))
        #expect(!description.contains("top-secret-token"))
        #expect(!description.contains("acme"))
        #expect(description.contains("postgres://app:<redacted>@db.internal:5432/consent"))
        #expect(description.contains("Authorization: <redacted>"))
    }

    @Test func badStoreValuesNameTheirKey() async throws {
        let cases: [(String, String)] = [
            ("store: {kind: postgres}", "store.postgres.url"),
            ("store: {kind: postgres, postgres: {url: 'mysql://x@y/z'}}", "store.postgres.url"),
            ("store: {kind: postgres, postgres: {url: 'postgres://u@h/d', channel: 'Bad-Channel'}}", "store.postgres.channel"),
            ("store: {kind: http}", "store.http.url_template"),
            ("store: {kind: http, http: {url_template: 'https://h/no-placeholder'}}", "store.http.url_template"),
            ("store: {kind: http, http: {url_template: 'https://h/{subject}', preferences_pointer: 'data'}}", "store.http.preferences_pointer"),
            ("store: {kind: http, http: {url_template: 'https://h/{subject}', headers: ['no colon']}}", "store.http.headers"),
            ("store: {kind: http, http: {url_template: 'https://h/{subject}', status_mapping: {granted: [A], denied: [a]}}}", "store.http.status_mapping"),
            ("store: {kind: redis}", "store.kind"),
        ]
        for (yaml, key) in cases {
            do {
                _ = try await Self.load(yaml)
                Issue.record("\(yaml) must be refused")
            } catch let error as ConfigurationError {
                #expect(error.key == key, "\(yaml): \(error)")
            }
        }
    }

    @Test func theEnvironmentOverridesStoreKeys() async throws {
        let configuration = try await Self.load(
            "store: {kind: sqlite}",
            environment: [
                "CONSENTGATE_STORE_KIND": "postgres",
                "CONSENTGATE_STORE_POSTGRES_URL": "postgres://app:from-env@127.0.0.1:5433/consent?sslmode=disable",
            ])
        #expect(configuration.store.kind == .postgres)
        #expect(configuration.store.postgres.url.contains("from-env"))
        #expect(!configuration.redactedDescription.contains("from-env"))
    }

    /// One request of 2 500 distinct unknown subjects against a service answering in 20 ms: its misses are
    /// looked up together (32 at a time, the service's bound), not one after another (about 50 s), and the
    /// answer comes within the request's deadline. (How fast they all resolve is the benchmark's to say,
    /// BENCHMARKS.md: a debug build on a loaded machine may reach the deadline first, and then fails closed.)
    @Test func manyMissesOfOneRequestResolveTogether() async throws {
        let service = try await CustomerConsentService.start()
        service.slow(by: .milliseconds(20))
        let harness = try await GatewayHarness.start { configuration in
            configuration.store.kind = .http
            configuration.store.http.urlTemplate = service.urlTemplate
            configuration.store.http.maxConcurrent = 32
            configuration.store.http.timeoutSeconds = 5
        }
        // Small events: 2 500 of them stay under the 500 KB batch limit.
        let events = (0..<2_500).map {
            #"{"type":"track","event":"e","userId":"stranger-\#($0)","context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#
        }
        let started = ContinuousClock.now
        let reply = try await harness.post("/v1/batch", json: TestEvents.batch(events))
        let took = ContinuousClock.now - started
        // One after another they would take about 50 s; the deadline answers at 5 s, plus what a loaded CI
        // machine (the spool's crash tests run beside this one) adds.
        #expect(took < .seconds(15), "answered in \(took), well past the 5 s deadline")
        if reply.status == 200 {
            #expect(service.requests == 2_500)
        } else {
            #expect(reply.status == 503 && reply.code == "consent_unverifiable")
        }
        #expect(harness.sink.received.isEmpty, "unknown subjects are dropped")
        await harness.stop()
        await service.stop()
    }

    /// What the request's deadline cuts off is unverifiable: 503 at the deadline, not after every lookup.
    @Test func theRequestDeadlineBoundsItsLookups() async throws {
        let service = try await CustomerConsentService.start()
        // Lookups take 8 s, the deadline is 0.5 s: waiting for the lookups (or having no deadline) answers
        // after 8 s at least, so a bound well under that tells them apart even on a loaded machine.
        service.slow(by: .seconds(8))
        let harness = try await GatewayHarness.start { configuration in
            configuration.store.kind = .http
            configuration.store.http.urlTemplate = service.urlTemplate
            configuration.store.http.timeoutSeconds = 15
            configuration.store.requestDeadlineSeconds = 0.5
        }
        let events = (0..<40).map { TestEvents.track(userId: "slow-\($0)", anonymousId: nil, stamp: ["Analytics": true]) }
        let started = ContinuousClock.now
        let reply = try await harness.post("/v1/batch", json: TestEvents.batch(events))
        let took = ContinuousClock.now - started
        #expect(reply.status == 503)
        #expect(reply.code == "consent_unverifiable")
        #expect(took < .seconds(5), "answered in \(took)")
        #expect(harness.sink.received.isEmpty)

        // The lookups the deadline left behind are not cancelled, so they do not count as the service's
        // failures: once they have ended, the circuit breaker is still closed (readiness says so).
        try await Task.sleep(for: .seconds(9))
        let ready = try await harness.send(harness.admin + "/readyz", body: nil, headers: [], method: .GET)
        #expect(ready.status == 200, "\(ready.body)")
        await harness.stop()
        await service.stop()
    }
}
