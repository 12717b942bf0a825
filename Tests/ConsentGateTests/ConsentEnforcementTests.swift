import ConsentCore
import Foundation
import SegmentWire
import Testing

/// End to end through real sockets: for every verdict × action, what the TLS upstream receives is
/// exactly what the policy says, byte-checked; restamped events differ only in their preferences.
@Suite(.timeLimit(.minutes(3)))
struct ConsentEnforcementTests {
    static let aliceTruth = ["Advertising": false, "Analytics": true]
    static let bobTruth = ["Advertising": true, "Analytics": true]

    /// A gateway with alice and bob in the store, and the given policy.
    func withSeededGateway(
        _ adjust: @escaping @Sendable (inout ConsentPolicy) -> Void = { _ in },
        _ body: (GatewayHarness) async throws -> Void
    ) async throws {
        try await GatewayHarness.with({ adjust(&$0.policy.rules) }) { harness in
            try await harness.putConsent("alice", Self.aliceTruth)
            try await harness.putConsent("bob", Self.bobTruth)
            try await body(harness)
        }
    }

    /// Posts a batch and returns the batch string the upstream received (nil when nothing was sent).
    func forwarded(_ harness: GatewayHarness, _ events: [String], headers: [(String, String)] = []) async throws -> String? {
        harness.sink.reset()
        let reply = try await harness.post(
            "/v1/batch", json: TestEvents.batch(events, extra: ""), headers: [("Content-Type", "application/json")] + headers)
        #expect(reply.status == 200, "\(reply.body)")
        return harness.sink.received.first.map { String(decoding: $0.json, as: UTF8.self) }
    }

    @Test func consistentEventsGoUpstreamAsTheOriginalBytes() async throws {
        try await withSeededGateway { harness in
            let body = TestEvents.batch([TestEvents.track(userId: "alice", stamp: Self.aliceTruth), TestEvents.track(userId: "bob", stamp: Self.bobTruth)])
            let reply = try await harness.post("/v1/batch", json: body)
            #expect(reply.status == 200)
            #expect(harness.sink.received.first?.body == Array(body.utf8))
            #expect(harness.auditRecords.isEmpty, "nothing to audit when everything is forwarded unchanged")
        }
    }

    @Test func overGrantedEventsAreDropped() async throws {
        try await withSeededGateway { harness in
            let keep = TestEvents.track(userId: "bob", stamp: Self.bobTruth)
            let overGranted = TestEvents.track(userId: "alice", messageId: "m-over", stamp: ["Advertising": true, "Analytics": true])
            let received = try await forwarded(harness, [keep, overGranted, keep])
            #expect(received == TestEvents.batch([keep, keep], extra: ""))
            let record = try #require(harness.auditRecords.first)
            #expect(record["verdict"] as? String == "mismatch")
            #expect(record["action"] as? String == "drop")
            #expect(record["message_id"] as? String == "m-over")
            #expect(record["over"] as? [String] == ["Advertising"])
            #expect(record["record_version"] as? Int == 1)
        }
    }

    @Test func underGrantedEventsAreMismatchesOnlyWhenComparingExactly() async throws {
        let underGranted = TestEvents.track(userId: "alice", stamp: ["Advertising": false, "Analytics": false])
        try await withSeededGateway { harness in
            let received1 = try await forwarded(harness, [underGranted])
            #expect(received1 == nil)
            #expect(harness.auditRecords.first?["under"] as? [String] == ["Analytics"])
        }
        try await withSeededGateway({ $0.compare = .noOvergrant }) { harness in
            let received2 = try await forwarded(harness, [underGranted])
            #expect(received2 == TestEvents.batch([underGranted], extra: ""))
        }
    }

    @Test func mismatchesAreRestampedWithTheTruthAndNothingElseChanges() async throws {
        try await withSeededGateway({ $0.onMismatch = .restamp }) { harness in
            let stamped = TestEvents.track(userId: "alice", stamp: ["Advertising": true, "Analytics": false])
            let received = try #require(try await forwarded(harness, [stamped]))
            let expected = stamped.replacingOccurrences(
                of: TestEvents.preferences(["Advertising": true, "Analytics": false]),
                with: TestEvents.preferences(Self.aliceTruth))
            #expect(received == TestEvents.batch([expected], extra: ""))
            #expect(harness.auditRecords.first?["action"] as? String == "restamp")
        }
    }

    @Test func missingStampsFollowThePolicy() async throws {
        let unstamped = TestEvents.track(userId: "alice", stamp: nil)
        try await withSeededGateway({ $0.onMissingStamp = .restamp }) { harness in
            let received = try #require(try await forwarded(harness, [unstamped]))
            let expected = unstamped.replacingOccurrences(
                of: #""context":{"#, with: #""context":{"consent":{"categoryPreferences":\#(TestEvents.preferences(Self.aliceTruth))},"#)
            #expect(received == TestEvents.batch([expected], extra: ""))
            #expect(harness.auditRecords.first?["verdict"] as? String == "missing_stamp")
        }
        try await withSeededGateway({ $0.onMissingStamp = .drop }) { harness in
            let received3 = try await forwarded(harness, [unstamped])
            #expect(received3 == nil)
        }
        try await withSeededGateway({ $0.onMissingStamp = .forward }) { harness in
            let received4 = try await forwarded(harness, [unstamped])
            #expect(received4 == TestEvents.batch([unstamped], extra: ""))
        }
    }

    @Test func unknownSubjectsFollowThePolicy() async throws {
        let stranger = TestEvents.track(userId: "stranger", anonymousId: "anon-stranger", stamp: ["Advertising": true])
        try await withSeededGateway { harness in
            let received5 = try await forwarded(harness, [stranger])
            #expect(received5 == nil)
            #expect(harness.auditRecords.first?["verdict"] as? String == "unknown_subject")
        }
        try await withSeededGateway({ $0.onUnknownSubject = .forward }) { harness in
            let received6 = try await forwarded(harness, [stranger])
            #expect(received6 == TestEvents.batch([stranger], extra: ""))
        }
    }

    @Test func theAnonymousIdIsUsedWhenTheStoreDoesNotKnowTheUserId() async throws {
        try await withSeededGateway { harness in
            try await harness.putConsent("anon-carol", ["Advertising": true])
            let event = TestEvents.track(userId: "carol-not-stored", anonymousId: "anon-carol", stamp: ["Advertising": true])
            let received7 = try await forwarded(harness, [event])
            #expect(received7 == TestEvents.batch([event], extra: ""))
            let over = TestEvents.track(userId: "carol-not-stored", anonymousId: "anon-carol", stamp: ["Advertising": true, "Analytics": true])
            let received8 = try await forwarded(harness, [over])
            #expect(received8 == nil)
        }
    }

    @Test func theBatchContextStampAppliesToEveryEvent() async throws {
        try await withSeededGateway { harness in
            let alice = TestEvents.track(userId: "alice", stamp: nil)
            let bob = TestEvents.track(userId: "bob", stamp: nil)
            let shared = #","context":{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}}"#
            harness.sink.reset()
            let reply = try await harness.post("/v1/batch", json: TestEvents.batch([alice, bob], extra: shared))
            #expect(reply.status == 200)
            // bob's truth matches the shared stamp, alice's does not.
            let received = try #require(harness.sink.received.first)
            #expect(String(decoding: received.body, as: UTF8.self) == TestEvents.batch([bob], extra: shared))
        }
    }

    @Test func globalPrivacyControlDeniesItsCategories() async throws {
        try await withSeededGateway { harness in
            let bob = TestEvents.track(userId: "bob", stamp: Self.bobTruth)
            let received9 = try await forwarded(harness, [bob], headers: [("Sec-GPC", "1")])
            #expect(received9 == nil)
            #expect(harness.auditRecords.first?["over"] as? [String] == ["Advertising"])
            let honest = TestEvents.track(userId: "bob", stamp: ["Advertising": false, "Analytics": true])
            let received10 = try await forwarded(harness, [honest], headers: [("Sec-GPC", "1")])
            #expect(received10 == TestEvents.batch([honest], extra: ""))
        }
    }

    @Test func shadowModeForwardsEverythingButAudits() async throws {
        try await withSeededGateway({ $0.mode = .shadow }) { harness in
            let events = [
                TestEvents.track(userId: "alice", stamp: ["Advertising": true, "Analytics": true]),
                TestEvents.track(userId: "nobody", anonymousId: nil),
                TestEvents.track(userId: "bob", stamp: nil),
            ]
            let received = try await forwarded(harness, events)
            #expect(received == TestEvents.batch(events, extra: ""))
            let records = harness.auditRecords
            #expect(records.count == 3)
            #expect(records.allSatisfy { $0["mode"] as? String == "shadow" })
            #expect(Set(records.compactMap { $0["verdict"] as? String }) == ["mismatch", "unknown_subject", "missing_stamp"])
        }
    }

    @Test func consentPreferenceUpdatedEventsAlwaysPassAndRefreshTheCache() async throws {
        try await withSeededGateway { harness in
            let stale = TestEvents.track(userId: "alice", stamp: ["Advertising": true, "Analytics": true])
            let dropped = try await forwarded(harness, [stale])
            #expect(dropped == nil)  // truth cached: Advertising denied
            // The truth changes behind the gateway's back (another writer of the same SQLite file)...
            try await StoreEditor.put(path: harness.configuration.store.sqlitePath, subject: "alice", ["Advertising": true, "Analytics": true])
            // ...the user's consent-change event passes whatever its stamp, and drops the cached entry.
            let update = TestEvents.track(userId: "alice", event: "Segment Consent Preference Updated", stamp: ["Advertising": true])
            let received11 = try await forwarded(harness, [update])
            #expect(received11 == TestEvents.batch([update], extra: ""))
            let received12 = try await forwarded(harness, [stale])
            #expect(received12 == TestEvents.batch([stale], extra: ""))
        }
    }

    @Test func storeOutageRejectsTheWholeRequest() async throws {
        try await withSeededGateway { harness in
            try FileManager.default.removeItem(atPath: harness.configuration.store.sqlitePath)
            harness.sink.reset()
            let body = TestEvents.batch([TestEvents.track(userId: "never-seen", stamp: ["Analytics": true])])
            let reply = try await harness.post("/v1/batch", json: body)
            #expect(reply.status == 503)
            #expect(reply.code == "consent_unverifiable")
            #expect(reply.headers.first(name: "Retry-After") != nil)
            #expect(harness.sink.received.isEmpty)
            let ready = try await harness.send(harness.admin + "/readyz", body: nil, headers: [], method: .GET)
            #expect(ready.status == 503)
        }
    }

    @Test func storeOutageWithDropForwardsOnlyWhatWasVerified() async throws {
        try await withSeededGateway({ $0.onStoreUnavailable = .drop }) { harness in
            let cached = TestEvents.track(userId: "bob", stamp: Self.bobTruth)
            let first = try await forwarded(harness, [cached])
            #expect(first != nil)  // bob is cached now
            try FileManager.default.removeItem(atPath: harness.configuration.store.sqlitePath)
            let unverified = TestEvents.track(userId: "never-seen", stamp: ["Analytics": true])
            let received13 = try await forwarded(harness, [cached, unverified])
            #expect(received13 == TestEvents.batch([cached], extra: ""))
        }
    }

    /// The first post resolves every subject through the store (the path by name); the second finds
    /// them cached and decides by mask, reading ids in place. Both must forward and audit the same.
    @Test(arguments: [false, true])
    func theCachedPathDecidesAsTheStorePath(gpc: Bool) async throws {
        try await withSeededGateway { harness in
            let events = [
                TestEvents.track(userId: "alice", messageId: "m-1", stamp: Self.aliceTruth),
                TestEvents.track(userId: "alice", messageId: "m-2", stamp: ["Advertising": true, "Analytics": true]),
                // "alice" spelled with an escape: decoded first, then the same subject.
                TestEvents.track(userId: "alice", messageId: "m-3", stamp: Self.aliceTruth)
                    .replacingOccurrences(of: #""userId":"alice""#, with: #""userId":"\u0061lice""#),
                TestEvents.track(userId: "carol", messageId: "m-4", stamp: ["Analytics": true]),
                TestEvents.track(userId: nil, anonymousId: "bob", messageId: "m-5", stamp: Self.bobTruth),
                TestEvents.track(userId: "carol", anonymousId: "bob", messageId: "m-6", stamp: Self.bobTruth),
                TestEvents.track(userId: "bob", messageId: "m-7", stamp: ["Analytics": true, "Advertising": true, "Unheard": false]),
                TestEvents.track(userId: "bob", messageId: "m-8", stamp: ["Analytics": true, "Advertising": true, "Unheard": true]),
            ]
            let headers = gpc ? [("Sec-GPC", "1")] : []
            let byStore = try await forwarded(harness, events, headers: headers)
            let auditedByStore = harness.auditRecords.map(Self.decisionFields)
            let hitsBefore = try await Self.cacheHits(harness)
            let byCache = try await forwarded(harness, events, headers: headers)
            let audited = harness.auditRecords.map(Self.decisionFields)
            #expect(byCache == byStore)
            #expect(Array(audited.dropFirst(auditedByStore.count)) == auditedByStore)
            let hitsAfter = try await Self.cacheHits(harness)
            // Every subject of the second post was cached: 7 records (carol's entry says "unknown").
            #expect(hitsAfter == hitsBefore + 7, "the second post was answered by the cache")
            if !gpc {
                let expected = [events[0], events[2], events[4], events[5], events[6]]
                #expect(byStore == TestEvents.batch(expected, extra: ""))
                #expect(auditedByStore.map { $0[1] } == ["m-2", "m-4", "m-8"])
            }
        }
    }

    private static func cacheHits(_ harness: GatewayHarness) async throws -> Double {
        let reply = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET)
        return ObservabilityTests.samples(reply.body)[#"consentgate_cache_lookups_total{result="hit"}"#] ?? 0
    }

    /// What an audit record says of a decision (its time and request id differ between posts).
    private static func decisionFields(_ record: [String: Any]) -> [String] {
        ["verdict", "message_id", "action", "subject", "over", "under", "record_version"].map { "\(record[$0] ?? "-")" }
    }
}
