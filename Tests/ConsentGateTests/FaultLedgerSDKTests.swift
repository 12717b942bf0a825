import ConsentGate
import Foundation
import Testing

/// The real `segment-analytics-python` SDK, retrying as it does, through a gateway whose upstream or
/// store fails for a while: once the fault clears every consistent event has arrived exactly once by
/// `messageId`, no over-granted or unknown-subject event ever arrived, and nothing went upstream while
/// consent could not be verified.
@Suite(.timeLimit(.minutes(3)))
struct FaultLedgerSDKTests {
    static let truth = ["Advertising": false, "Analytics": true]

    /// 60 events over 6 known subjects: two in three agree with the truth, one in three over-grants
    /// `Advertising`; every fifth names a subject the store does not know.
    static func plan(_ name: String) -> (events: [PythonSDK.PlannedEvent], consistent: Set<String>, known: [String]) {
        var consistent: Set<String> = []
        let events = (0..<60).map { index in
            let messageId = "\(name)-\(index)"
            if index % 5 == 4 {
                return PythonSDK.PlannedEvent(user_id: "\(name)-stranger-\(index)", stamp: truth, message_id: messageId)
            }
            var stamp = truth
            if index % 3 == 0 { stamp["Advertising"] = true } else { consistent.insert(messageId) }
            return PythonSDK.PlannedEvent(user_id: "\(name)-user-\(index % 6)", stamp: stamp, message_id: messageId)
        }
        return (events, consistent, (0..<6).map { "\(name)-user-\($0)" })
    }

    /// The `messageId`s Segment took, with how many times each.
    static func accepted(_ sink: SegmentSink) -> [String: Int] {
        sink.received.filter(\.accepted).flatMap(\.messageIds).reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    /// A short retry delay; the upstream timeout stays below the SDK's own (10 s).
    static func quick(_ configuration: inout GatewayConfiguration) {
        configuration.upstream.retryAfterSeconds = 1
        configuration.upstream.timeoutSeconds = 5
    }

    @Test func upstreamRateLimitingThenFailingThenBack() async throws {
        try await GatewayHarness.with(Self.quick) { harness in
            let (events, consistent, known) = Self.plan("sdk-up")
            for subject in known { try await harness.putConsent(subject, Self.truth) }
            harness.sink.inject(.status(429, retryAfter: "1"), times: 2)
            harness.sink.inject(.status(500), times: 2)
            harness.sink.inject(.closeMidResponse)

            let outcome = try await PythonSDK.send(events, host: harness.ingress, gzip: true)
            #expect(outcome.errors.isEmpty, "\(outcome.errors)")
            #expect(outcome.sent.count == events.count)
            #expect(harness.sink.pendingFaults == 0, "every fault was met")
            let accepted = Self.accepted(harness.sink)
            #expect(Set(accepted.keys) == consistent, "only consistent events arrive, and all of them")
            #expect(accepted.values.allSatisfy { $0 == 1 }, "each exactly once: \(accepted.filter { $0.value > 1 })")
        }
    }

    @Test func storeFailingThenBack() async throws {
        let service = try await CustomerConsentService.start()
        do {
            try await GatewayHarness.with({ configuration in
                Self.quick(&configuration)
                configuration.store.kind = .http
                configuration.store.http.urlTemplate = service.urlTemplate
                configuration.store.http.breakerFailureThreshold = 2
                configuration.store.http.breakerOpenSeconds = 1
            }) { harness in
                let (events, consistent, known) = Self.plan("sdk-store")
                for subject in known { service.set(subject, #"{"Advertising":false,"Analytics":true}"#) }
                service.fail(with: 500)

                // The fault clears a second after the first refusal; until then nothing may go upstream.
                let mended = Task { () -> ContinuousClock.Instant? in
                    let deadline = ContinuousClock.now + .seconds(60)
                    while service.requests == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                    try await Task.sleep(for: .seconds(1))
                    let now = ContinuousClock.now
                    service.fail(with: nil)
                    return service.requests > 0 ? now : nil
                }
                let outcome = try await PythonSDK.send(events, host: harness.ingress, gzip: false)
                let cleared = try await mended.value
                let clearedAt = try #require(cleared, "the SDK never reached the store")

                #expect(outcome.errors.isEmpty, "\(outcome.errors)")
                #expect(outcome.sent.count == events.count)
                let refused = harness.auditRecords.filter { $0["verdict"] as? String == "store_unavailable" && $0["action"] as? String == "reject" }
                #expect(!refused.isEmpty, "the SDK met the outage")
                #expect(harness.sink.received.allSatisfy { $0.arrived > clearedAt }, "nothing went upstream while consent was unverifiable")
                let accepted = Self.accepted(harness.sink)
                #expect(Set(accepted.keys) == consistent, "only consistent events arrive, and all of them")
                #expect(accepted.values.allSatisfy { $0 == 1 }, "each exactly once: \(accepted.filter { $0.value > 1 })")
            }
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }
}
