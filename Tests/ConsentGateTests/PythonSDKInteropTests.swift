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
}
