import Foundation
import Testing

/// SIGTERM stops accepting, lets in-flight requests finish, flushes and closes, and exits 0.
@Suite(.timeLimit(.minutes(2)))
struct GracefulShutdownTests {
    @Test func sigtermDuringASlowUpstreamExchangeLosesNothing() async throws {
        let sink = try await SegmentSink.start()
        sink.respond(.init(delay: .milliseconds(1500)))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shutdown-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gateway = try GatewayProcess(
            yaml: """
                ingress: {host: 127.0.0.1, port: 0}
                upstream: {url: "\(sink.url)", ca_file: "\(TestCertificates.files.ca)", timeout_seconds: 10}
                admin: {host: 127.0.0.1, port: 0, token: t}
                store: {sqlite: {path: "\(directory)/consent.sqlite"}}
                audit: {path: "\(directory)/audit.jsonl", hmac_key: k}
                policy: {mode: shadow}
                log: {level: info, format: json}
                shutdown: {grace_seconds: 10}
                """,
            directory: directory)
        try await gateway.waitUntilListening()
        let body = TestEvents.batch([TestEvents.track(userId: "u-1"), TestEvents.track(userId: nil, anonymousId: nil)])
        let inFlight = Task { try await HarnessClient.shared.send(gateway.ingress + "/v1/batch", method: "POST", body: body) }
        // Wait until the request is at the upstream, then ask the gateway to stop.
        let deadline = ContinuousClock.now + .seconds(10)
        while sink.received.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(sink.received.count == 1)
        let exit = Task { await gateway.stop(signal: SIGTERM) }
        let reply = try await inFlight.value
        #expect(reply.status == 200, "the in-flight request completed: \(reply.body)")
        #expect(await exit.value == 0, "the process exited 0:\n\(gateway.log)")
        // New connections are refused once it has stopped.
        await #expect(throws: (any Error).self) {
            _ = try await HarnessClient.shared.send(gateway.ingress + "/v1/batch", method: "POST", body: body)
        }
        // The audit record of the invalid event was flushed before exit.
        let audit = try String(contentsOfFile: directory + "/audit.jsonl", encoding: .utf8)
        #expect(audit.contains(#""verdict":"invalid""#))
        #expect(gateway.log.contains("closed the SQLite consent store"))
        await sink.stop()
    }
}
