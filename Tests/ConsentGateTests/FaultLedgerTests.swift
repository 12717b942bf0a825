import ConsentGate
import Foundation
import PostgresTestSupport
import Testing

/// Broken dependencies, counted: while the consent store or the upstream fails, every event is
/// forwarded, dropped with an audit record and a consent reason, or in a request the client was told
/// to retry; once the fault clears and the client retries, every consistent event has arrived exactly
/// once, and nothing whose consent was unverified ever went upstream (see ``EventLedger``).
@Suite(.timeLimit(.minutes(3)))
struct FaultLedgerTests {
    /// A short retry delay. (The upstream timeout stays generous: a request that is merely slow under
    /// load would time out after Segment took it, and the client's retry would deliver it twice.)
    static func quick(_ configuration: inout GatewayConfiguration) {
        configuration.upstream.retryAfterSeconds = 1
    }

    /// Opens the gateway's pooled TLS connection to the sink before a test that times the upstream: on a
    /// loaded machine the first handshake alone can outlast a short timeout, and a request that times
    /// out after the sink took it comes back with the client's retry.
    static func warmUp(_ harness: GatewayHarness) async throws {
        try await harness.putConsent("warm-up", LedgerPlan.truth)
        let reply = try await harness.post(
            "/v1/batch", json: TestEvents.batch([TestEvents.track(userId: "warm-up", anonymousId: nil, stamp: LedgerPlan.truth)]))
        #expect(reply.status == 200 && harness.sink.received.count == 1, "the warm-up request was not forwarded")
        harness.sink.reset()
    }

    /// Sends the plan's batches one by one, breaking a dependency before batch `breakAt` and mending it
    /// before `mendAt` (never when `nil`); then, when mended, retries what the client was told to retry.
    /// Returns the ledger, checked: its reconciliation must find nothing.
    @discardableResult
    func run(
        _ harness: GatewayHarness, _ plan: LedgerPlan, breakAt: Int, mendAt: Int?,
        break breakIt: () async throws -> Void, mend: () async throws -> Void = {},
        retryWithin: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> EventLedger {
        let ledger = EventLedger()
        for (index, batch) in plan.batches.enumerated() {
            if index == breakAt { try await breakIt() }
            if index == mendAt { try await mend() }
            try await ledger.send(batch, to: harness)
        }
        if mendAt != nil { try await ledger.retryPending(to: harness, within: retryWithin) }
        let problems = ledger.reconcile(received: harness.sink.received, audit: harness.auditRecords, settled: mendAt != nil)
        #expect(problems.isEmpty, "the ledger does not balance (answers: \(ledger.codes)):\n\(problems.joined(separator: "\n"))",
                sourceLocation: sourceLocation)
        return ledger
    }

    // MARK: The upstream

    @Test func upstreamDown() async throws {
        // The client pool keeps trying to connect until the request's deadline: keep it short, but well
        // above a new TLS connection's time on a loaded machine.
        try await GatewayHarness.with({ Self.quick(&$0); $0.upstream.timeoutSeconds = 3 }) { harness in
            let plan = LedgerPlan("up-down", batches: 6)
            try await plan.store(through: harness)
            let ledger = try await run(harness, plan, breakAt: 2, mendAt: 4, break: { await harness.sink.stop() }, mend: { try await harness.sink.resume() })
            #expect(ledger.codes["upstream_unreachable"] ?? 0 >= 2, "\(ledger.codes)")
        }
    }

    @Test func upstreamSlowerThanItsTimeout() async throws {
        try await GatewayHarness.with({ Self.quick(&$0); $0.upstream.timeoutSeconds = 3 }) { harness in
            let plan = LedgerPlan("up-slow", batches: 5)
            try await plan.store(through: harness)
            try await Self.warmUp(harness)
            let ledger = try await run(harness, plan, breakAt: 1, mendAt: nil, break: { harness.sink.inject(.delay(.seconds(4)), times: 3) })
            try await ledger.retryPending(to: harness)
            let problems = ledger.reconcile(received: harness.sink.received, audit: harness.auditRecords, settled: true)
            #expect(problems.isEmpty, "\(problems)")
            #expect(ledger.codes["upstream_timeout"] == 3, "\(ledger.codes)")
        }
    }

    @Test(arguments: [
        (SegmentSink.Fault.status(429, retryAfter: "1"), "rate_limited"),
        (SegmentSink.Fault.status(500), "upstream_error"),
        (SegmentSink.Fault.status(503, retryAfter: "2"), "upstream_error"),
        (SegmentSink.Fault.closeMidResponse, "upstream_unreachable"),
    ])
    func upstreamFailing(fault: SegmentSink.Fault, code: String) async throws {
        try await GatewayHarness.with(Self.quick) { harness in
            let plan = LedgerPlan("up-\(code)", batches: 6)
            try await plan.store(through: harness)
            let ledger = try await run(harness, plan, breakAt: 1, mendAt: nil, break: { harness.sink.inject(fault, times: 3) })
            #expect(ledger.codes[code] == 3, "\(ledger.codes)")
            if case .status(429, let retryAfter) = fault {
                #expect(ledger.attempts.filter { $0.status == 429 }.allSatisfy { $0.retryAfter == retryAfter }, "Retry-After is relayed")
            }
            try await ledger.retryPending(to: harness)
            let problems = ledger.reconcile(received: harness.sink.received, audit: harness.auditRecords, settled: true)
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    // MARK: The SQLite store

    @Test func sqliteFileRemovedMidRun() async throws {
        try await GatewayHarness.with(Self.quick) { harness in
            let plan = LedgerPlan("sqlite-removed", batches: 6)
            try await plan.store(through: harness)
            // The store cannot come back without a restart (it refuses a replaced file): nothing settles,
            // and every request after the removal is refused whole.
            let ledger = try await run(harness, plan, breakAt: 3, mendAt: nil) {
                try FileManager.default.removeItem(atPath: harness.configuration.store.sqlitePath)
            }
            #expect(ledger.codes == ["200": 3, "consent_unverifiable": 3], "\(ledger.codes)")
        }
    }

    @Test func sqliteLockedByAnotherWriter() async throws {
        try await GatewayHarness.with(Self.quick) { harness in
            let plan = LedgerPlan("sqlite-locked", batches: 6)
            try await plan.store(through: harness)
            var holder: SQLiteLockHolder?
            // In WAL mode a writer's lock does not stop readers: lookups go on, nothing is refused.
            let ledger = try await run(
                harness, plan, breakAt: 1, mendAt: 5,
                break: { holder = try await SQLiteLockHolder.lock(harness.configuration.store.sqlitePath) },
                mend: { await holder?.release() })
            #expect(ledger.codes == ["200": 6], "\(ledger.codes)")
            await holder?.release()
        }
    }

    @Test func sqliteSlow() async throws {
        try await GatewayHarness.with(Self.quick) { harness in
            let plan = LedgerPlan("sqlite-slow", batches: 4)
            try await plan.store(through: harness)
            // SQLite runs on NIO's blocking thread pool: keep every thread of it busy for a while, as a
            // slow disk would. The store has no deadline of its own: answers are late, never wrong.
            let ledger = try await run(harness, plan, breakAt: 1, mendAt: nil, break: { BlockingPoolStall.stall(for: .milliseconds(800)) })
            #expect(ledger.codes == ["200": 4], "\(ledger.codes)")
            let slowed = ledger.attempts[1].took
            #expect(slowed >= .milliseconds(500), "the stalled lookup took only \(slowed)")
        }
    }

    // MARK: The HTTP store

    @Test func httpStoreTimingOutOpensItsBreaker() async throws {
        let service = try await CustomerConsentService.start()
        do {
            try await GatewayHarness.with({ configuration in
                Self.quick(&configuration)
                configuration.store.kind = .http
                configuration.store.http.urlTemplate = service.urlTemplate
                configuration.store.http.timeoutSeconds = 0.2
                configuration.store.http.breakerFailureThreshold = 2
                configuration.store.http.breakerOpenSeconds = 5
            }) { harness in
                let plan = LedgerPlan("http-store", batches: 8)
                for subject in plan.knownSubjects {
                    service.set(subject, #"{"Advertising":false,"Analytics":true}"#)
                }
                var askedAtBreak = 0
                var askedWhileBroken = 0
                let ledger = try await run(
                    harness, plan, breakAt: 2, mendAt: 6,
                    break: {
                        askedAtBreak = service.requests
                        service.slow(by: .seconds(1))
                    },
                    mend: {
                        askedWhileBroken = service.requests - askedAtBreak
                        service.slow(by: .zero)
                    })
                #expect(ledger.codes["consent_unverifiable"] ?? 0 >= 4, "\(ledger.codes)")
                // Four batches of four events needed 16 lookups: once two timed out, the open breaker
                // failed the rest at once, asking the service again only for a rare probe.
                #expect(askedWhileBroken <= 5, "the service was asked \(askedWhileBroken) times while the breaker should be open")
            }
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }

    // MARK: PostgreSQL

    @Test func postgresStoppedMidRunThenBack() async throws {
        let cluster = try await PrivateCluster.start()
        do {
            let url = try await TestPostgres.freshDatabase(on: cluster.url)
            try await GatewayHarness.with({ configuration in
                Self.quick(&configuration)
                configuration.store.kind = .postgres
                configuration.store.postgres.url = TestPostgres.configurationText(url)
                configuration.store.postgres.poolSize = 2
                configuration.store.postgres.timeoutSeconds = 1
            }) { harness in
                let plan = LedgerPlan("postgres", batches: 6)
                try await plan.store(through: harness)
                let ledger = try await run(
                    harness, plan, breakAt: 2, mendAt: 5, break: { try await cluster.pause() }, mend: { try await cluster.resume() })
                #expect(ledger.codes["consent_unverifiable"] ?? 0 >= 3, "\(ledger.codes)")
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
