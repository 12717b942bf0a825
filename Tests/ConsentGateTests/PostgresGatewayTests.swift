import ConsentGate
import ConsentStores
import Foundation
import Logging
import PostgresTestSupport
import Testing

/// Gateways on a real PostgreSQL: replicas enforce a withdrawal made by plain SQL, and an outage of the
/// database lets nothing unverified through and heals by itself.
@Suite(.timeLimit(.minutes(3)))
struct PostgresGatewayTests {
    static let granted = ["Advertising": true, "Analytics": true]
    static let withdrawn = ["Advertising": false, "Analytics": true]

    /// A batch with one event that claims `Advertising` is granted.
    static func overGrantingBatch(_ subject: String) -> String {
        TestEvents.batch([TestEvents.track(userId: subject, anonymousId: nil, stamp: granted)])
    }

    static func onPostgres(_ url: PostgresURL, timeoutSeconds: Double = 5) -> @Sendable (inout GatewayConfiguration) -> Void {
        { configuration in
            configuration.store.kind = .postgres
            configuration.store.postgres.url = TestPostgres.configurationText(url)
            configuration.store.postgres.poolSize = 4
            configuration.store.postgres.timeoutSeconds = timeoutSeconds
        }
    }

    /// Posts the over-granting event until `harness` stops forwarding it; returns how long that took.
    static func waitUntilDropped(_ harness: GatewayHarness, _ subject: String, timeout: Duration = .seconds(10)) async throws -> Duration {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < timeout {
            harness.sink.reset()
            let reply = try await harness.post("/v1/batch", json: overGrantingBatch(subject))
            #expect(reply.status == 200)
            if harness.sink.received.isEmpty { return ContinuousClock.now - started }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestPostgres.Failure(description: "the replica still forwards the over-granted event \(timeout) after the withdrawal")
    }

    @Test func threeReplicasEnforceAWithdrawalMadeBySQL() async throws {
        let url = try await TestPostgres.freshDatabase()
        var replicas: [GatewayHarness] = []
        do {
            for _ in 0..<3 { replicas.append(try await GatewayHarness.start(Self.onPostgres(url))) }
            // Written through one replica's consent API: PostgreSQL is the store of all three.
            try await replicas[0].putConsent("user-1", Self.granted)
            for replica in replicas {
                // Twice: the second answer comes from the cache (TTL 300 s), which only NOTIFY can correct.
                for _ in 0..<2 {
                    replica.sink.reset()
                    let reply = try await replica.post("/v1/batch", json: Self.overGrantingBatch("user-1"))
                    #expect(reply.status == 200)
                    #expect(replica.sink.received.count == 1)
                }
            }

            // The customer's own SQL, on a connection of its own.
            try await TestPostgres.execute(
                url, #"UPDATE consent_subjects SET preferences = '{"Advertising": false, "Analytics": true}' WHERE subject = 'user-1'"#)
            for replica in replicas {
                let latency = try await Self.waitUntilDropped(replica, "user-1")
                // Correctness, not speed (BENCHMARKS.md measures that): without NOTIFY the cache would hold for 300 s.
                #expect(latency < .seconds(5), "a replica took \(latency) to enforce the withdrawal")
            }
            // Consent granted again by SQL flows back the same way.
            try await TestPostgres.execute(
                url, #"UPDATE consent_subjects SET preferences = '{"Advertising": true, "Analytics": true}' WHERE subject = 'user-1'"#)
            for replica in replicas {
                let deadline = ContinuousClock.now + .seconds(10)
                while true {
                    replica.sink.reset()
                    _ = try await replica.post("/v1/batch", json: Self.overGrantingBatch("user-1"))
                    if replica.sink.received.count == 1 { break }
                    guard ContinuousClock.now < deadline else {
                        Issue.record("a replica kept dropping after consent was granted again")
                        break
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            // The version bumped by the table's trigger shows in the API.
            let reply = try await replicas[1].send(
                replicas[1].admin + "/consent/subjects/user-1", body: nil,
                headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")], method: .GET)
            #expect(reply.status == 200)
            #expect(reply.body.contains(#""version":3"#))
        } catch {
            for replica in replicas { await replica.stop() }
            throw error
        }
        for replica in replicas { await replica.stop() }
    }

    @Test func consentImportWritesThroughAndReplicasHearOfIt() async throws {
        let url = try await TestPostgres.freshDatabase()
        let harness = try await GatewayHarness.start(Self.onPostgres(url))
        do {
            try await harness.putConsent("user-1", Self.granted)
            _ = try await harness.post("/v1/batch", json: Self.overGrantingBatch("user-1"))
            #expect(harness.sink.received.count == 1)

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-import-\(UUID().uuidString).jsonl").path
            try """
                {"subject": "user-1", "categoryPreferences": {"Advertising": false, "Analytics": true}}
                {"subject": "user-2", "categoryPreferences": {"Advertising": true}}
                {"subject": "user-3", "categoryPreferences": {}}

                """.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            var configuration = GatewayConfiguration()
            Self.onPostgres(url)(&configuration)
            let report = try await ConsentImporter.run(file: file, configuration: configuration, logger: Logger(label: "import-test"))
            #expect(report.subjects == 3)
            #expect(try await TestPostgres.integer(url, "SELECT count(*) FROM consent_subjects") == 3)
            // The running replica heard of the import through NOTIFY.
            _ = try await Self.waitUntilDropped(harness, "user-1")
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func anOutageLetsNothingUnverifiedThroughAndHealsByItself() async throws {
        let cluster = try await PrivateCluster.start()
        do {
            let url = try await TestPostgres.freshDatabase(on: cluster.url)
            let harness = try await GatewayHarness.start { configuration in
                Self.onPostgres(url, timeoutSeconds: 2)(&configuration)
                // Strict: a record is "verified" only while the store can confirm it.
                configuration.cache.maxStaleGrantSeconds = 0
            }
            do {
                try await harness.putConsent("user-1", Self.granted)
                let first = try await harness.post("/v1/batch", json: Self.overGrantingBatch("user-1"))
                #expect(first.status == 200)
                #expect(harness.sink.received.count == 1)

                try await cluster.pause()
                // The gateway learns of the outage when its connections close, a moment after the server
                // is gone; until then it holds its last confirmation. It must notice by itself, soon.
                let noticeBy = ContinuousClock.now + .seconds(10)
                while try await harness.post("/v1/batch", json: Self.overGrantingBatch("user-1")).status != 503 {
                    guard ContinuousClock.now < noticeBy else {
                        throw TestPostgres.Failure(description: "the gateway kept trusting its cache 10 s into the outage")
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                harness.sink.reset()
                // For a while, every request is refused with 503 + Retry-After (the SDK retries later):
                // the cached subject, and one never seen.
                let outageEnd = ContinuousClock.now + .seconds(3)
                var replies = 0
                while ContinuousClock.now < outageEnd {
                    for subject in ["user-1", "user-\(replies)"] {
                        let reply = try await harness.post("/v1/batch", json: Self.overGrantingBatch(subject))
                        #expect(reply.status == 503, "during the outage: \(reply.status) \(reply.body)")
                        #expect(reply.code == "consent_unverifiable")
                        #expect(reply.headers.first(name: "Retry-After") != nil)
                        replies += 1
                    }
                }
                #expect(replies >= 2)
                #expect(harness.sink.received.isEmpty, "nothing may be forwarded while consent cannot be verified")
                let ready = try await harness.send(harness.admin + "/readyz", body: nil, headers: [], method: .GET)
                #expect(ready.status == 503)

                try await cluster.resume()
                // The gateway heals by itself: no restart, no operator.
                let deadline = ContinuousClock.now + .seconds(30)
                while true {
                    harness.sink.reset()
                    let reply = try await harness.post("/v1/batch", json: Self.overGrantingBatch("user-1"))
                    if reply.status == 200, harness.sink.received.count == 1 { break }
                    guard ContinuousClock.now < deadline else {
                        throw TestPostgres.Failure(description: "the gateway did not recover after PostgreSQL came back: \(reply.status) \(reply.body)")
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                // And NOTIFY flows again on the new listening connection.
                try await TestPostgres.execute(
                    url, #"UPDATE consent_subjects SET preferences = '{"Advertising": false, "Analytics": true}' WHERE subject = 'user-1'"#)
                _ = try await Self.waitUntilDropped(harness, "user-1")
            } catch {
                await harness.stop()
                throw error
            }
            await harness.stop()
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
