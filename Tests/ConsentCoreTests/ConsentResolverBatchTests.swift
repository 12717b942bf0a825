import ConsentCore
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
