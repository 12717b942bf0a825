import ConsentGate
import Foundation
import NIOHTTP1
import Testing

/// The consent API on the admin listener: the truth's only writer besides the store itself.
@Suite(.timeLimit(.minutes(2)))
struct ConsentAPITests {
    func call(_ harness: GatewayHarness, _ method: HTTPMethod, _ subject: String, body: String? = nil, token: String? = GatewayHarness.adminToken)
        async throws -> GatewayHarness.Reply
    {
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try await harness.send(
            harness.admin + "/consent/subjects/" + subject, body: body.map { Array($0.utf8) }, headers: headers, method: method)
    }

    @Test func putGetDeleteRoundTrip() async throws {
        try await GatewayHarness.with { harness in
            let put = try await call(harness, .PUT, "user%2F42", body: #"{"categoryPreferences":{"Analytics":true,"Advertising":false}}"#)
            #expect(put.status == 200)
            let stored = try JSONSerialization.jsonObject(with: Data(put.body.utf8)) as? [String: Any]
            #expect(stored?["subject"] as? String == "user/42")
            #expect(stored?["version"] as? Int == 1)
            #expect(stored?["categoryPreferences"] as? [String: Bool] == ["Analytics": true, "Advertising": false])

            let again = try await call(harness, .PUT, "user%2F42", body: #"{"categoryPreferences":{"Analytics":false}}"#)
            #expect((try JSONSerialization.jsonObject(with: Data(again.body.utf8)) as? [String: Any])?["version"] as? Int == 2)

            let get = try await call(harness, .GET, "user%2F42")
            #expect(get.status == 200)
            #expect((try JSONSerialization.jsonObject(with: Data(get.body.utf8)) as? [String: Any])?["categoryPreferences"] as? [String: Bool] == ["Analytics": false])

            #expect(try await call(harness, .DELETE, "user%2F42").status == 204)
            let gone = try await call(harness, .GET, "user%2F42")
            #expect(gone.status == 404)
            #expect(gone.code == "unknown_subject")
            #expect(try await call(harness, .DELETE, "user%2F42").status == 404)
        }
    }

    @Test func refusesAMissingOrWrongToken() async throws {
        try await GatewayHarness.with { harness in
            let body = #"{"categoryPreferences":{"Analytics":true}}"#
            for token in [nil, "wrong-token", ""] as [String?] {
                let reply = try await call(harness, .PUT, "mallory", body: body, token: token)
                #expect(reply.status == 401)
                #expect(reply.code == "unauthorized")
                #expect(reply.headers.first(name: "WWW-Authenticate") == "Bearer")
            }
            let basic = try await harness.send(
                harness.admin + "/consent/subjects/mallory", body: nil,
                headers: [("Authorization", "Basic " + Data("\(GatewayHarness.adminToken):".utf8).base64EncodedString())], method: .GET)
            #expect(basic.status == 401)
            #expect(try await call(harness, .GET, "mallory").status == 404, "nothing was written without the token")
        }
    }

    @Test func isDisabledWithoutAToken() async throws {
        try await GatewayHarness.with({ $0.admin.token = "" }) { harness in
            let reply = try await call(harness, .GET, "anyone", token: "")
            #expect(reply.status == 403)
            #expect(reply.code == "consent_api_disabled")
        }
    }

    @Test func refusesDocumentsThatAreNotPreferences() async throws {
        try await GatewayHarness.with { harness in
            for body in [#"{"categoryPreferences":{"Analytics":1}}"#, #"{"prefs":{}}"#, "not json", #"{"categoryPreferences":["Analytics"]}"#] {
                let reply = try await call(harness, .PUT, "user", body: body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.code == "invalid_consent")
            }
        }
    }

    @Test func aWriteTakesEffectOnTheNextEvent() async throws {
        try await GatewayHarness.with { harness in
            try await harness.putConsent("dana", ["Advertising": false])
            let granted = TestEvents.batch([TestEvents.track(userId: "dana", stamp: ["Advertising": true])])
            _ = try await harness.post("/v1/batch", json: granted)
            #expect(harness.sink.received.isEmpty)  // dropped, and dana's truth is cached now
            try await harness.putConsent("dana", ["Advertising": true])
            _ = try await harness.post("/v1/batch", json: granted)
            #expect(harness.sink.received.count == 1)  // the PUT dropped the cached entry
            _ = try await call(harness, .DELETE, "dana")
            harness.sink.reset()
            _ = try await harness.post("/v1/batch", json: granted)
            #expect(harness.sink.received.isEmpty)  // erased: unknown subject, dropped
        }
    }

    @Test func theStoreKeepsItsDataAcrossARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("restart-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keep: @Sendable (inout GatewayConfiguration) -> Void = { $0.store.sqlitePath = directory + "/consent.sqlite" }
        try await GatewayHarness.with(keep) { harness in
            try await harness.putConsent("erin", ["Analytics": true])
        }
        try await GatewayHarness.with(keep) { harness in
            let get = try await call(harness, .GET, "erin")
            #expect(get.status == 200)
            #expect((try JSONSerialization.jsonObject(with: Data(get.body.utf8)) as? [String: Any])?["categoryPreferences"] as? [String: Bool] == ["Analytics": true])
        }
    }
}

