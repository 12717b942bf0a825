import Crypto
import Foundation
import Testing

/// The gateway's own output never names a user: the real binary runs at trace level with JSON logs,
/// sees traffic for known ids (consistent, mismatched, unknown, unstamped, invalid, refused, upstream
/// failures), and afterwards no id appears in clear in any log line or audit record.
@Suite(.timeLimit(.minutes(3)))
struct PrivacyTests {
    @Test func noIdentifierAppearsInLogsOrTheAuditLog() async throws {
        let sink = try await SegmentSink.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("privacy-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gateway = try GatewayProcess(
            yaml: """
                ingress: {host: 127.0.0.1, port: 0}
                upstream: {url: "\(sink.url)", ca_file: "\(TestCertificates.files.ca)", timeout_seconds: 15}
                admin: {host: 127.0.0.1, port: 0, token: privacy-admin-token}
                store: {kind: sqlite, sqlite: {path: "\(directory)/consent.sqlite"}}
                audit: {path: "\(directory)/audit.jsonl", hmac_key: privacy-hmac-key}
                policy: {on_mismatch: drop, on_missing_stamp: restamp}
                log: {level: trace, format: json}
                """,
            directory: directory)
        try await gateway.waitUntilListening()

        let known = "privacy-user-7f3a9c", other = "privacy-user-b81e02"
        let anonymous = "privacy-anon-5d2c11", stranger = "privacy-stranger-0a9f44"
        let ids = [known, other, anonymous, stranger]
        let client = HarnessClient.shared
        for subject in [known, other] {
            let reply = try await client.send(
                gateway.admin + "/consent/subjects/" + subject, method: "PUT",
                body: #"{"categoryPreferences":{"Advertising":false,"Analytics":true}}"#,
                headers: ["Authorization": "Bearer privacy-admin-token"])
            #expect(reply.status == 200)
        }
        let events = [
            TestEvents.track(userId: known, anonymousId: anonymous, stamp: ["Advertising": false, "Analytics": true]),
            TestEvents.track(userId: other, anonymousId: anonymous, stamp: ["Advertising": true, "Analytics": true]),
            TestEvents.track(userId: stranger, anonymousId: anonymous, stamp: ["Analytics": true]),
            TestEvents.track(userId: known, anonymousId: anonymous, stamp: nil),
            #"{"type":"track","userId":"\#(other)","anonymousId":"\#(anonymous)"}"#,  // invalid: no event name
        ]
        let batch = TestEvents.batch(events)
        #expect(try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: batch).status == 200)
        #expect(try await client.send(gateway.ingress + "/v1/track", method: "POST", body: #"{"userId":"\#(known)","event":"#).status == 400)
        sink.respond(.init(status: 500))
        #expect(try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: batch).status == 502)
        _ = try await client.send(gateway.admin + "/consent/subjects/" + stranger, method: "GET", headers: ["Authorization": "Bearer privacy-admin-token"])
        _ = try await client.send(gateway.admin + "/consent/subjects/" + known, method: "DELETE", headers: ["Authorization": "Bearer privacy-admin-token"])

        let status = await gateway.stop()
        await sink.stop()
        #expect(status == 0)

        let log = gateway.log
        let audit = (try? String(contentsOfFile: directory + "/audit.jsonl", encoding: .utf8)) ?? ""
        #expect(log.split(separator: "\n").count > 3, "trace logging produced output")
        #expect(audit.split(separator: "\n").count >= 6, "mismatch, unknown, invalid (twice) and restamp were audited")
        for id in ids {
            #expect(!log.contains(id), "\(id) appears in the log")
            #expect(!audit.contains(id), "\(id) appears in the audit log")
        }
        // The audit log names subjects by HMAC, which the key holder can recompute.
        let code = HMAC<SHA256>.authenticationCode(for: Data(other.utf8), using: SymmetricKey(data: Data("privacy-hmac-key".utf8)))
        let hex = code.map { String(format: "%02x", $0) }.joined()
        #expect(audit.contains(hex))
    }
}
