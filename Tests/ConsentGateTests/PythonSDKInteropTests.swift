import Foundation
import Testing

/// The real `segment-analytics-python` SDK, with `host=` pointed at consentgate, delivers every event
/// to a TLS upstream exactly once, with and without gzip.
@Suite(.timeLimit(.minutes(3)))
struct PythonSDKInteropTests {
    @Test(arguments: [false, true])
    func everyMessageArrivesExactlyOnce(gzip: Bool) async throws {
        try await GatewayHarness.with(GatewayHarness.shadow) { harness in
            let planned = (0..<120).map { index in
                PythonSDK.PlannedEvent(user_id: "sdk-user-\(index % 7)", anonymous_id: "anon-\(index)", stamp: nil)
            }
            let outcome = try await PythonSDK.send(planned, host: harness.ingress, gzip: gzip)
            #expect(outcome.errors.isEmpty)
            #expect(outcome.sent.count == planned.count)
            let received = harness.sink.received
            #expect(received.allSatisfy { $0.path == "/v1/batch" })
            #expect(received.allSatisfy { ($0.headers[.contentEncoding] == "gzip") == gzip })
            let arrived = received.flatMap { $0.events.compactMap { $0["messageId"] as? String } }
            #expect(arrived.sorted() == outcome.sent.sorted())
            #expect(Set(arrived).count == arrived.count, "no message arrives twice")
        }
    }

    static let truth: [String: [String: Bool]] = [
        "sdk-alice": ["Advertising": false, "Analytics": true],
        "sdk-bob": ["Advertising": true, "Analytics": true],
    ]

    /// Half the events agree with the store, half over-grant Advertising.
    static func plan() -> [PythonSDK.PlannedEvent] {
        (0..<60).map { index in
            let user = index % 2 == 0 ? "sdk-alice" : "sdk-bob"
            var stamp = truth[user]!
            if index % 3 == 0 { stamp["Advertising"] = true }
            return PythonSDK.PlannedEvent(user_id: user, stamp: stamp, message_id: "sdk-\(index)")
        }
    }

    @Test(arguments: [false, true])
    func onlyEventsThatAgreeWithTheStoreArrive(gzip: Bool) async throws {
        try await GatewayHarness.with { harness in
            for (user, preferences) in Self.truth { try await harness.putConsent(user, preferences) }
            let planned = Self.plan()
            let outcome = try await PythonSDK.send(planned, host: harness.ingress, gzip: gzip)
            #expect(outcome.errors.isEmpty)
            #expect(outcome.sent.count == planned.count)
            let agreeing = planned.filter { $0.stamp == Self.truth[$0.user_id!] }.compactMap(\.message_id)
            let arrived = harness.sink.received.flatMap { $0.events.compactMap { $0["messageId"] as? String } }
            #expect(arrived.sorted() == agreeing.sorted())
            #expect(agreeing.count > 0 && agreeing.count < planned.count)
        }
    }

    @Test func restampedEventsArriveCorrected() async throws {
        try await GatewayHarness.with({ $0.policy.rules.onMismatch = .restamp }) { harness in
            for (user, preferences) in Self.truth { try await harness.putConsent(user, preferences) }
            let planned = Self.plan()
            let outcome = try await PythonSDK.send(planned, host: harness.ingress, gzip: true)
            #expect(outcome.errors.isEmpty)
            let arrived = harness.sink.received.flatMap(\.events)
            #expect(arrived.count == planned.count)
            for event in arrived {
                let user = try #require(event["userId"] as? String)
                let consent = (event["context"] as? [String: Any])?["consent"] as? [String: Any]
                #expect(consent?["categoryPreferences"] as? [String: Bool] == Self.truth[user])
            }
        }
    }
}
