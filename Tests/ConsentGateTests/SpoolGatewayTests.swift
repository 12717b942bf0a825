import Foundation
import HTTPTypes
import SegmentWire
import Spool
import Testing

@testable import ConsentGate

/// `delivery.mode: spool` through a real gateway and the TLS stand-in for Segment: acknowledged while
/// Segment is down and delivered once it is back, the same bytes as relay mode, `spool_full` and
/// readiness, dead letters and their requeue, the lock, and the `spool` commands.
@Suite(.timeLimit(.minutes(3)))
struct SpoolGatewayTests {
    /// A spool directory of the test's own, outside the harness's (which `stop()` removes), so that a
    /// spool can outlive its gateway.
    static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-spool-\(UUID().uuidString)").path
    }

    /// Spool mode with quick retries.
    static func spool(_ path: String, maxBytes: Int64 = 1 << 30) -> @Sendable (inout GatewayConfiguration) -> Void {
        { configuration in
            configuration.delivery.mode = .spool
            configuration.delivery.spool.path = path
            configuration.delivery.spool.maxBytes = maxBytes
            configuration.delivery.retry.initialSeconds = 0.05
            configuration.delivery.retry.maxSeconds = 0.5
            configuration.upstream.timeoutSeconds = 3
        }
    }

    /// Polls `condition` until it holds or `timeout` passes; whether it held.
    static func eventually(within timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    /// The `messageId`s Segment took, with how many times each.
    static func accepted(_ sink: SegmentSink) -> [String: Int] {
        sink.received.filter(\.accepted).flatMap(\.messageIds).reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    /// The value of one series (`name{labels}` as exposed) in a Prometheus text exposition.
    static func value(_ series: String, in exposition: String) -> Double? {
        exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    static func consistent(_ batches: [[LedgerPlan.Event]]) -> Set<String> {
        Set(batches.flatMap { $0.filter { $0.kind == .consistent }.map(\.messageId) })
    }

    @Test func eventsAcknowledgedWhileSegmentIsDownArriveOnceItIsBack() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.with(Self.spool(path)) { harness in
            let plan = LedgerPlan("spool-down", batches: 6)
            try await plan.store(through: harness)
            await harness.sink.stop()
            for batch in plan.batches {
                let reply = try await harness.post("/v1/batch", json: LedgerPlan.body(batch))
                #expect(reply.status == 200 && reply.body == #"{"success":true}"#, "acknowledged once durable: \(reply.status) \(reply.body)")
            }
            let status = try SpoolLog.inspect(directory: path)
            #expect(status.batches == plan.batches.count, "every acknowledged batch is in the spool: \(status)")
            #expect(harness.sink.received.isEmpty)
            let state = try await harness.send(
                harness.admin + "/debugger/state", body: nil, headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")], method: .GET)
            #expect(state.body.contains(#""spool":{"bytes":"#) && state.body.contains(#""batches":6"#), "the debugger shows the spool: \(state.body)")

            try await harness.sink.resume()
            let consistent = Self.consistent(plan.batches)
            let arrived = await Self.eventually { Set(Self.accepted(harness.sink).keys).isSuperset(of: consistent) }
            #expect(arrived, "every acknowledged consistent event arrives once Segment is back")
            #expect(Set(Self.accepted(harness.sink).keys) == consistent, "and nothing else: no over-granted or unknown-subject event")
            let drained = await Self.eventually { (try? SpoolLog.inspect(directory: path).batches) == 0 }
            #expect(drained, "delivered batches leave the spool")
            let metrics = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET).body
            #expect(Self.value(#"consentgate_delivery_attempts_total{outcome="connection_failed"}"#, in: metrics) ?? 0 >= 1)
            #expect(Self.value(#"consentgate_delivery_attempts_total{outcome="delivered"}"#, in: metrics) == 6, "\(metrics)")
            #expect(Self.value("consentgate_spool_batches", in: metrics) == 0)
        }
    }

    /// A batch that waits in the spool goes out with `sentAt` moved by its wait, so that Segment's
    /// clock-skew correction (`receivedAt − (sentAt − originalTimestamp)`) leaves its events where they
    /// were; every other byte is the one acknowledged, and the late attempts are counted.
    @Test func aBatchThatWaitedGoesOutWithSentAtMovedByTheWait() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.with(Self.spool(path)) { harness in
            let plan = LedgerPlan("spool-late", batches: 1)
            try await plan.store(through: harness)
            await harness.sink.stop()
            let body = LedgerPlan.body(plan.batches[0].filter { $0.kind == .consistent })
            let written = "2026-11-29T10:00:01.000Z"
            #expect(body.contains(#""sentAt":"\#(written)""#))
            let posted = Date()
            #expect(try await harness.post("/v1/batch", json: body).status == 200)
            let acknowledged = Date()
            try await Task.sleep(for: .seconds(2))
            let resumed = Date()
            try await harness.sink.resume()
            #expect(await Self.eventually { harness.sink.received.contains { $0.accepted } })
            let received = try #require(harness.sink.received.first { $0.accepted })
            let sentAt = try #require(received.sentAt)
            let stamp = try #require(ISO8601Timestamp(Array(sentAt.utf8)))
            let moved = stamp.milliseconds - ISO8601Timestamp(Array(written.utf8))!.milliseconds
            func milliseconds(_ from: Date, _ to: Date) -> Int64 { Int64((to.timeIntervalSince(from) * 1000).rounded(.down)) }
            // Acknowledged between `posted` and `acknowledged`; sent between `resumed` and its arrival.
            #expect(moved >= milliseconds(acknowledged, resumed) && moved <= milliseconds(posted, received.receivedAt) + 1, "moved by \(moved) ms")
            let json = String(decoding: received.json, as: UTF8.self)
            #expect(json.replacingOccurrences(of: sentAt, with: written) == body, "only sentAt changed: \(json)")
            let metrics = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET).body
            #expect(Self.value(#"consentgate_delivery_late_attempts_total{sent_at="moved"}"#, in: metrics) ?? 0 >= 1, "\(metrics)")
            #expect(Self.value(#"consentgate_delivery_late_attempts_total{sent_at="unreadable"}"#, in: metrics) == 0)
        }
    }

    /// The fault ledger in spool mode: Segment rate-limits, fails, breaks a connection mid-answer and
    /// answers too late; the SDK is answered 200 throughout, and the deliverer's retries bring every
    /// consistent event to Segment exactly once (counting only the answers Segment completed).
    @Test func faultsAtSegmentAreTheDeliverersToRetry() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.with(Self.spool(path)) { harness in
            let plan = LedgerPlan("spool-faults", batches: 8)
            try await plan.store(through: harness)
            harness.sink.inject(.status(429, retryAfter: "1"), times: 2)
            harness.sink.inject(.status(500), times: 2)
            harness.sink.inject(.status(503, retryAfter: "1"))
            harness.sink.inject(.closeMidResponse)
            harness.sink.inject(.delay(.seconds(4)))
            for batch in plan.batches {
                #expect(try await harness.post("/v1/batch", json: LedgerPlan.body(batch)).status == 200)
            }
            let consistent = Self.consistent(plan.batches)
            #expect(await Self.eventually(within: .seconds(40)) { Set(Self.accepted(harness.sink).keys).isSuperset(of: consistent) })
            #expect(harness.sink.pendingFaults == 0, "every fault was met")
            let accepted = Self.accepted(harness.sink)
            #expect(Set(accepted.keys) == consistent, "only consistent events arrive, and all of them")
            #expect(accepted.values.allSatisfy { $0 == 1 }, "each taken once: \(accepted.filter { $0.value > 1 })")
            let metrics = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET).body
            for outcome in ["rate_limited", "server_error", "timeout"] {
                #expect(Self.value(#"consentgate_delivery_attempts_total{outcome="\#(outcome)"}"#, in: metrics) ?? 0 >= 1, "\(outcome)")
            }
            #expect(Self.value(#"consentgate_delivery_dead_letters_total{reason="rejected"}"#, in: metrics) == 0)
        }
    }

    @Test func spoolModeForwardsTheBytesRelayModeForwards() async throws {
        // A gzip batch with one dropped event (re-encoded) and a plain one left as it came.
        let plan = LedgerPlan("spool-bytes", batches: 1)
        // No sentAt: on a loaded machine a commit can take a second, and a batch delivered that late has its
        // sentAt moved (aBatchThatWaitedGoesOutWithSentAtMovedByTheWait); here every byte must match.
        let envelope = #","writeKey":"wk-test""#
        let reencoded = TestEvents.batch(plan.batches[0].map(\.json), extra: envelope)
        let unchanged = TestEvents.batch(plan.batches[0].filter { $0.kind == .consistent }.map(\.json), extra: envelope)
        let headers = [("Content-Type", "application/json"), ("User-Agent", "analytics-python/2.3.3"), TestEvents.basic("wk-bytes")]
        func run(_ configure: @escaping @Sendable (inout GatewayConfiguration) -> Void) async throws -> [SegmentSink.Received] {
            try await GatewayHarness.with(configure) { harness in
                try await plan.store(through: harness)
                for body in [reencoded, unchanged] {
                    #expect(try await harness.post("/v1/batch", body: Array(body.utf8), headers: headers).status == 200)
                    #expect(try await harness.post("/v1/batch", body: HostileBodies.gzip(body), headers: headers + [("Content-Encoding", "gzip")]).status == 200)
                }
                _ = await Self.eventually { harness.sink.received.count == 4 }
                return harness.sink.received.sorted { $0.arrived < $1.arrived }
            }
        }
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let relayed = try await run { _ in }
        let spooled = try await run(Self.spool(path))
        #expect(relayed.count == 4 && spooled.count == 4)
        // The deliverer sends at most max_in_flight at once, oldest first: compare as sets of bodies.
        #expect(Set(relayed.map(\.json)) == Set(spooled.map(\.json)), "the same events, re-encoded the same way")
        #expect(Set(relayed.map(\.body)) == Set(spooled.map(\.body)), "the same bytes, compression included")
        for name in ["Authorization", "User-Agent", "Content-Type", "X-Forwarded-For"] {
            #expect(Set(relayed.map { $0.headers[.init(name)!] }) == Set(spooled.map { $0.headers[.init(name)!] }), "\(name)")
        }
        #expect(spooled.filter { $0.headers[.contentEncoding] == "gzip" }.count == 2)
        // The client's address (issue 15) travels with each spooled batch.
        #expect(spooled.allSatisfy { $0.headers[.init("X-Forwarded-For")!] == "127.0.0.1" })
    }

    /// `delivery.max_in_flight` workers: never more batches on the wire at once, and that many used.
    /// Segment is down while the batches are acknowledged, so all of them wait in the spool; back, it answers
    /// each after a second. A batch is on the wire for at least that second after it arrives, so arrivals
    /// `max_in_flight` apart are at least a second apart (the bound), and some `max_in_flight` arrive within
    /// a second of each other (the workers send side by side). No wall-clock limit: CI runs suites in parallel.
    @Test func theDelivererSendsAtMostMaxInFlightAtOnce() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let inFlight = 3
        let delay = Duration.seconds(1)
        try await GatewayHarness.with({ configuration in
            Self.spool(path)(&configuration)
            configuration.delivery.maxInFlight = inFlight
        }) { harness in
            let plan = LedgerPlan("spool-in-flight", batches: 9)
            try await plan.store(through: harness)
            await harness.sink.stop()
            for batch in plan.batches {
                #expect(try await harness.post("/v1/batch", json: LedgerPlan.body(batch)).status == 200)
            }
            harness.sink.respond(.init(delay: delay))
            try await harness.sink.resume()
            let arrived = await Self.eventually(within: .seconds(60)) { harness.sink.received.count >= plan.batches.count }
            #expect(arrived)
            let times = harness.sink.received.map(\.arrived).sorted()
            for index in times.indices.dropLast(inFlight) {
                #expect(times[index + inFlight] - times[index] >= delay * 0.9, "at most \(inFlight) on the wire at once")
            }
            let sideBySide = times.indices.dropLast(inFlight - 1).contains { times[$0 + inFlight - 1] - times[$0] < delay }
            #expect(sideBySide, "\(inFlight) batches on the wire at once: \(times.map { $0 - times[0] })")
        }
    }

    @Test func aFullSpoolAnswersSpoolFullAndIsNotReady() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.with(Self.spool(path, maxBytes: 4096)) { harness in
            let plan = LedgerPlan("spool-full", batches: 20)
            try await plan.store(through: harness)
            await harness.sink.stop()
            var acknowledged: [[LedgerPlan.Event]] = []
            var refusal: GatewayHarness.Reply?
            for batch in plan.batches {
                let reply = try await harness.post("/v1/batch", json: LedgerPlan.body(batch))
                if reply.status == 200 {
                    acknowledged.append(batch)
                } else {
                    refusal = reply
                    break
                }
            }
            let refused = try #require(refusal, "4 KiB holds a few batches, not 20")
            #expect(refused.status == 503 && refused.code == "spool_full", "\(refused.status) \(refused.body)")
            #expect(refused.headers.first(name: "Retry-After") != nil)
            #expect(!acknowledged.isEmpty)
            let ready = try await harness.send(harness.admin + "/readyz", body: nil, headers: [], method: .GET)
            #expect(ready.status == 503 && ready.body.contains("spool is full"), "\(ready.status) \(ready.body)")

            try await harness.sink.resume()
            let consistent = Self.consistent(acknowledged)
            #expect(await Self.eventually { Set(Self.accepted(harness.sink).keys).isSuperset(of: consistent) })
            #expect(Set(Self.accepted(harness.sink).keys) == consistent, "what was refused never arrives")
            let readyAgain = await Self.eventually {
                (try? await harness.send(harness.admin + "/readyz", body: nil, headers: [], method: .GET).status) == 200
            }
            #expect(readyAgain, "ready once the spool has drained")
        }
    }

    @Test func aBatchSegmentRefusesIsADeadLetterThatCanBeRequeued() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let plan = LedgerPlan("spool-dead", batches: 1)
        let consistent = Self.consistent(plan.batches)
        let configuration = try await GatewayHarness.with(Self.spool(path)) { harness in
            try await plan.store(through: harness)
            harness.sink.respond(.init(status: 400, body: #"{"success":false,"message":"refused"}"#))
            #expect(try await harness.post("/v1/batch", json: LedgerPlan.body(plan.batches[0])).status == 200)
            let dead = await Self.eventually { (try? SpoolLog.inspect(directory: path).deadLetters) == 1 }
            #expect(dead, "a 400 from Segment makes a dead letter")
            try await Task.sleep(for: .milliseconds(300))
            #expect(harness.sink.received.count == 1, "a 4xx is not retried")
            let records = harness.auditRecords.filter { $0["action"] as? String == "dead_letter" }
            #expect(Set(records.compactMap { $0["message_id"] as? String }) == consistent, "one audit record per forwarded event")
            #expect(records.allSatisfy { $0["subject"] == nil && ($0["reason"] as? String)?.contains("400") == true }, "\(records)")
            let metrics = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET).body
            #expect(Self.value(#"consentgate_delivery_dead_letters_total{reason="rejected"}"#, in: metrics) == 1)
            #expect(Self.value(#"consentgate_delivery_attempts_total{outcome="rejected"}"#, in: metrics) == 1)
            let status = try SpoolOperations.status(path: path)
            #expect(status.contains("batches: 0\n") && status.contains("dead_letters: 1\n"), "\(status)")
            return harness.configuration
        }
        // With the gateway stopped, the dead letter goes back in line and the next gateway delivers it.
        #expect(try await SpoolOperations.requeueDeadLetters(configuration: configuration) == 1)
        #expect(try SpoolLog.inspect(directory: path).deadLetters == 0)
        try await GatewayHarness.with(Self.spool(path)) { harness in
            #expect(await Self.eventually { Set(Self.accepted(harness.sink).keys) == consistent }, "the requeued batch is delivered")
        }
    }

    @Test func aBatchOlderThanTheMaximumAgeIsADeadLetter() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.with({ configuration in
            Self.spool(path)(&configuration)
            configuration.delivery.maxAgeHours = 1.0 / 3600  // one second
        }) { harness in
            let plan = LedgerPlan("spool-old", batches: 1)
            try await plan.store(through: harness)
            await harness.sink.stop()
            #expect(try await harness.post("/v1/batch", json: LedgerPlan.body(plan.batches[0])).status == 200)
            #expect(await Self.eventually { (try? SpoolLog.inspect(directory: path).deadLetters) == 1 }, "expired after a second of failures")
            let records = harness.auditRecords.filter { $0["action"] as? String == "dead_letter" }
            #expect(!records.isEmpty && records.allSatisfy { $0["reason"] as? String == "expired" }, "\(records)")
        }
    }

    @Test func aBatchOfASourceNoLongerConfiguredIsADeadLetter() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let plan = LedgerPlan("spool-gone", batches: 1)
        try await GatewayHarness.with({ configuration in
            Self.spool(path)(&configuration)
            configuration.sources = [
                .init(name: "eu", writeKeys: ["wk-eu"], policy: configuration.policy, upstreamURL: configuration.upstream.url)
            ]
        }) { harness in
            try await plan.store(through: harness)
            await harness.sink.stop()
            let reply = try await harness.post(
                "/v1/batch", body: Array(LedgerPlan.body(plan.batches[0]).utf8), headers: [("Content-Type", "application/json"), TestEvents.basic("wk-eu")])
            #expect(reply.status == 200)
        }
        // The next gateway has no source "eu": the batch cannot be sent anywhere it was meant for.
        try await GatewayHarness.with(Self.spool(path)) { harness in
            #expect(await Self.eventually { (try? SpoolLog.inspect(directory: path).deadLetters) == 1 })
            let records = harness.auditRecords.filter { $0["action"] as? String == "dead_letter" }
            #expect(!records.isEmpty && records.allSatisfy { $0["reason"] as? String == "unknown_source" && $0["source"] as? String == "eu" })
            try await Task.sleep(for: .milliseconds(200))
            #expect(harness.sink.received.isEmpty)
        }
    }

    @Test func aSpooledBatchCarriesItsHeadersUpstreamForwardedForIncluded() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A batch the ingress spooled with a client address: the deliverer sends its X-Forwarded-For. No
        // sentAt: the gateway may take more than a second to start, and a later delivery moves it.
        let log = try SpoolLog.open(SpoolConfiguration(directory: path))
        let event = TestEvents.track(userId: "u-xff", anonymousId: nil, messageId: "xff-1", stamp: LedgerPlan.truth)
        let body = Array(TestEvents.batch([event], extra: #","writeKey":"wk-test""#).utf8)
        _ = try await log.append(
            SpooledBatch(
                source: "", path: "/v1/batch", authorization: "Basic d2steGZmOg==", contentType: "application/json", userAgent: "sdk/1",
                contentEncoding: nil, forwardedFor: "203.0.113.7", acceptedAtMilliseconds: WallClock.milliseconds(), body: body))
        await log.close()
        try await GatewayHarness.with(Self.spool(path)) { harness in
            #expect(await Self.eventually { harness.sink.received.count == 1 })
            let received = try #require(harness.sink.received.first)
            #expect(received.body == body && received.path == "/v1/batch")
            #expect(received.headers[HTTPField.Name("X-Forwarded-For")!] == "203.0.113.7")
            #expect(received.headers[.authorization] == "Basic d2steGZmOg==" && received.headers[.userAgent] == "sdk/1")
            #expect(received.headers[.contentEncoding] == nil)
        }
    }

    @Test func whatIsRefusedOrAllDroppedIsNeverSpooled() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.with(Self.spool(path)) { harness in
            let plan = LedgerPlan("spool-none", batches: 1)
            try await plan.store(through: harness)
            // Every event dropped by policy: answered 200 as in relay mode, nothing to deliver.
            let dropped = plan.batches[0].filter { $0.kind != .consistent }
            let allDropped = try await harness.post("/v1/batch", json: LedgerPlan.body(dropped))
            #expect(allDropped.status == 200 && allDropped.body == #"{"success":true}"#)
            #expect(try await harness.post("/v1/batch", json: #"{"batch":[{"type":"track""#).status == 400)
            #expect(try await harness.post("/v1/nowhere", json: "{}").status == 404)
            #expect(try SpoolLog.inspect(directory: path).batches == 0)
            try await Task.sleep(for: .milliseconds(200))
            #expect(harness.sink.received.isEmpty)
        }
    }

    @Test func oneGatewayPerSpool() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await GatewayHarness.with(Self.spool(path)) { _ in
            do {
                _ = try await GatewayHarness.with(Self.spool(path)) { _ in Issue.record("a second gateway must not open a locked spool") }
            } catch {
                #expect("\(error)".contains("delivery.spool.path") && "\(error)".contains("locked"), "\(error)")
            }
            var configuration = GatewayConfiguration()
            configuration.delivery.spool.path = path
            do {
                _ = try await SpoolOperations.requeueDeadLetters(configuration: configuration)
                Issue.record("requeue needs the spool to itself")
            } catch {
                #expect("\(error)".contains("locked"), "\(error)")
            }
        }
    }

    @Test func drainDeliversASpoolLeftBehind() async throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let plan = LedgerPlan("spool-drain", batches: 4)
        var configuration = try await GatewayHarness.with(Self.spool(path)) { harness in
            try await plan.store(through: harness)
            await harness.sink.stop()
            for batch in plan.batches {
                #expect(try await harness.post("/v1/batch", json: LedgerPlan.body(batch)).status == 200)
            }
            return harness.configuration
        }
        #expect(try SpoolLog.inspect(directory: path).batches == 4, "the replica is gone; its spool stays")
        let sink = try await SegmentSink.start()
        configuration.upstream.url = sink.url
        let report = try await SpoolOperations.drain(path: path, configuration: configuration, logger: .init(label: "drain-test"))
        await sink.stop()
        #expect(report.before == 4 && report.after == 0, "\(report)")
        #expect(Set(Self.accepted(sink).keys) == Self.consistent(plan.batches))
    }
}
