import ConsentCore
import FoundationEssentials
import SegmentWire
import Testing

/// ``ConsentResolver/cachedOutcomes(_:)``: the enforcer's one-lock fast path must answer exactly as
/// ``ConsentResolver/resolve(userId:anonymousId:)`` would, and leave the cache as it would.
@Suite struct ConsentResolverBatchTests {
    private func makeResolver(_ store: FakeStore, clock: FakeClock = FakeClock()) -> ConsentResolver {
        ConsentResolver(
            store: store,
            configuration: ConsentCacheConfiguration(capacity: 100, ttl: .seconds(300), negativeTTL: .seconds(60), jitter: 0),
            clock: clock.closure,
            rng: SeededRNG()
        )
    }

    @Test func answersCachedPairsAndLeavesTheRestToTheStore() async {
        let user = record("user-1", ["Analytics": true])
        let anonymous = record("anon-2", ["Analytics": false])
        let store = FakeStore([user, anonymous])
        let resolver = makeResolver(store)
        _ = await resolver.resolve(subject: "user-1")
        _ = await resolver.resolve(subject: "anon-2")
        _ = await resolver.resolve(subject: "ghost")  // a negative entry
        let before = resolver.statistics

        let answers = resolver.cachedOutcomes([
            ("user-1", "anon-x"),  // the userId answers
            ("ghost", "anon-2"),  // unknown userId: the anonymousId answers
            ("ghost", nil),  // unknown, and nothing else to try
            (nil, nil),  // no ids at all
            ("", "anon-2"),  // an empty id counts as absent
            ("user-9", "anon-2"),  // not cached: needs the store
            ("ghost", "anon-9"),  // the anonymousId is not cached: needs the store
            nil,  // not asked
        ])
        #expect(answers.count == 8)
        #expect(answers[0]?.subject == "user-1" && answers[0]?.outcome == .fresh(user))
        #expect(answers[1]?.subject == "anon-2" && answers[1]?.outcome == .fresh(anonymous))
        #expect(answers[2]?.subject == "ghost" && answers[2]?.outcome == .unknown)
        #expect(answers[3] != nil && answers[3]?.subject == nil && answers[3]?.outcome == .unknown)
        #expect(answers[4]?.subject == "anon-2" && answers[4]?.outcome == .fresh(anonymous))
        #expect(answers[5] == nil)
        #expect(answers[6] == nil)
        #expect(answers[7] == nil)

        // Counted as the same resolves would count them; pairs left to the store changed nothing.
        let after = resolver.statistics
        #expect(after.hits == before.hits + 3)
        #expect(after.negativeHits == before.negativeHits + 2)
        #expect(after.misses == before.misses)
        #expect(store.totalLookups == 3)
        // And the store still answers the rest.
        #expect(await resolver.resolve(userId: "user-9", anonymousId: "anon-2") == ("anon-2", .fresh(anonymous)))
    }

    @Test func expiredEntriesAreLeftToTheStore() async {
        let user = record("user-1", ["Analytics": true])
        let store = FakeStore([user])
        let clock = FakeClock()
        let resolver = makeResolver(store, clock: clock)
        _ = await resolver.resolve(subject: "user-1")
        clock.advance(by: .seconds(301))
        #expect(resolver.cachedOutcomes([("user-1", nil)])[0] == nil)
        #expect(await resolver.resolve(userId: "user-1", anonymousId: nil) == ("user-1", .fresh(user)))
        #expect(store.totalLookups == 2)
    }
}

/// ``ConsentResolver/cachedTruths(_:in:)``: the enforcer's mask path answers as the path by name
/// would (same subject, same rule, same cache changes), reading ids in place.
@Suite struct ConsentResolverTruthTests {
    /// A body holding the given ids one after the other, and where each is.
    private struct Body {
        var bytes: [UInt8] = []
        var ranges: [String: Range<Int>] = [:]
        init(_ ids: [String]) {
            for id in ids {
                let start = bytes.count
                bytes.append(contentsOf: Array(id.utf8))
                ranges[id] = start..<bytes.count
            }
        }
    }

    private func makeResolver(_ store: FakeStore) -> ConsentResolver {
        ConsentResolver(
            store: store,
            configuration: ConsentCacheConfiguration(capacity: 100, ttl: .seconds(300), negativeTTL: .seconds(60), jitter: 0),
            clock: FakeClock().closure,
            rng: SeededRNG()
        )
    }

    @Test func answersConsistentStampsAndUnknownSubjectsAsThePathByName() async throws {
        let user = record("user-1", ["Analytics": true, "Advertising": false], version: 4)
        let anonymous = record("anon-2", ["Analytics": false, "Advertising": true], version: 7)
        let store = FakeStore([user, anonymous])
        let resolver = makeResolver(store)
        _ = await resolver.resolve(subject: "user-1")
        _ = await resolver.resolve(subject: "anon-2")
        _ = await resolver.resolve(subject: "ghost")
        let bits = resolver.categoryBits(["Analytics", "Advertising", "Unheard"])
        let analytics = try #require(bits[0])
        let advertising = try #require(bits[1])
        #expect(bits[2] == nil)
        let userGrants: UInt64 = 1 << analytics
        let anonymousGrants: UInt64 = 1 << advertising
        let body = Body(["user-1", "anon-2", "ghost", "user-9", "anon-x"])
        func ask(_ userId: String?, _ anonymousId: String?, _ grants: UInt64) -> SubjectBytes {
            SubjectBytes(userId: userId.map { body.ranges[$0]! }, anonymousId: anonymousId.map { body.ranges[$0]! }, stampGrants: grants)
        }
        let before = resolver.statistics

        let truths = body.bytes.withUnsafeBytes { bytes in
            resolver.cachedTruths(
                [
                    ask("user-1", "anon-x", userGrants),  // the userId answers
                    ask("ghost", "anon-2", anonymousGrants),  // unknown userId: the anonymousId answers
                    ask("ghost", nil, 0),  // unknown, nothing else to try
                    ask(nil, "ghost", userGrants),  // unknown anonymous subject
                    ask("user-1", nil, anonymousGrants),  // a mismatch: needs the record, left untouched
                    ask("user-9", "anon-2", anonymousGrants),  // not cached: needs the store
                    ask("ghost", "anon-x", 0),  // the anonymousId is not cached: needs the store
                    nil,
                ], in: bytes)
        }
        #expect(truths.count == 8)
        #expect(truths[0] == .record(grants: userGrants, version: 4, subject: .userId))
        #expect(truths[1] == .record(grants: anonymousGrants, version: 7, subject: .anonymousId))
        #expect(truths[2] == .unknown(subject: .userId))
        #expect(truths[3] == .unknown(subject: .anonymousId))
        #expect(truths[4] == nil)
        #expect(truths[5] == nil)
        #expect(truths[6] == nil)
        #expect(truths[7] == nil)

        // Counted as the resolves of the answered events would count them; the rest changed nothing.
        let after = resolver.statistics
        #expect(after.hits == before.hits + 2)
        #expect(after.negativeHits == before.negativeHits + 3)
        #expect(after.misses == before.misses)
        #expect(store.totalLookups == 3)
        // The path by name agrees on every answered event.
        let byName = resolver.cachedOutcomes([("user-1", "anon-x"), ("ghost", "anon-2"), ("ghost", nil), (nil, "ghost")])
        #expect(byName[0]?.subject == "user-1" && byName[0]?.outcome == .fresh(user))
        #expect(byName[1]?.subject == "anon-2" && byName[1]?.outcome == .fresh(anonymous))
        #expect(byName[2]?.subject == "ghost" && byName[2]?.outcome == .unknown)
        #expect(byName[3]?.subject == "ghost" && byName[3]?.outcome == .unknown)
    }

    @Test func aRecordWithoutAMaskIsLeftToThePathByName() async throws {
        // 64 other categories granted first use up the bits; a record granting a 65th has no mask.
        let filler = ConsentRecord(
            subject: "filler", preferences: (0..<64).map { CategoryPreference(category: "c\($0)", granted: true) }, version: 1,
            updatedAt: Date(timeIntervalSince1970: 0))
        let late = record("late", ["Late": true])
        let store = FakeStore([filler, late])
        let resolver = makeResolver(store)
        _ = await resolver.resolve(subject: "filler")
        _ = await resolver.resolve(subject: "late")
        #expect(resolver.categoryBits(["Late"]) == [nil])
        let body = Body(["late"])
        let truths = body.bytes.withUnsafeBytes { bytes in
            resolver.cachedTruths([SubjectBytes(userId: body.ranges["late"], anonymousId: nil, stampGrants: 0)], in: bytes)
        }
        #expect(truths == [nil])
        #expect(resolver.cachedOutcomes([("late", nil)])[0]?.outcome == .fresh(late))
    }
}
