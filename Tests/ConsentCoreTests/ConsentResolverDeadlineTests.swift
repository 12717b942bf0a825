import ConsentCore
import FoundationEssentials
import SegmentWire
import Testing

/// ``ConsentResolver/resolve(_:within:)``: a request's misses resolved together, at most the store's
/// bound at a time, within the request's deadline.
@Suite(.timeLimit(.minutes(1))) struct ConsentResolverDeadlineTests {
    private func makeResolver(_ store: FakeStore) -> ConsentResolver {
        ConsentResolver(
            store: store,
            configuration: ConsentCacheConfiguration(capacity: 10_000, ttl: .seconds(300), negativeTTL: .seconds(60), jitter: 0),
            clock: { ContinuousClock.now },
            rng: SeededRNG()
        )
    }

    /// 400 misses at 20 ms each take 8 s one after another; 16 at a time, about half a second (how fast
    /// is the benchmark's to say: here, that they overlap, within the store's bound).
    @Test func resolvesManyMissesConcurrentlyWithinTheStoresBound() async {
        let store = FakeStore([record("known", ["Analytics": true])], maxConcurrentLookups: 16)
        store.setLatency(.milliseconds(20))
        let resolver = makeResolver(store)
        let pairs = (0..<400).map { SubjectPair(userId: "user-\($0)", anonymousId: nil) } + [SubjectPair(userId: "known", anonymousId: nil)]
        let answers = await resolver.resolve(pairs, within: .seconds(60))
        #expect(answers.count == 401)
        #expect(answers.dropLast().allSatisfy { $0.outcome == .unknown })
        #expect(answers.last?.subject == "known" && answers.last?.outcome == .fresh(record("known", ["Analytics": true])))
        #expect(store.maxInFlight <= 16)
        #expect(store.maxInFlight > 1, "lookups ran concurrently")
    }

    /// Past the deadline, what is unresolved is unavailable, at once: the answer does not wait for the
    /// lookups still in flight.
    @Test func whatTheDeadlineCutsOffIsUnavailable() async {
        let store = FakeStore([record("fast", ["Analytics": true])], maxConcurrentLookups: 4)
        let resolver = makeResolver(store)
        _ = await resolver.resolve(subject: "fast")  // cached: answers without the store
        store.setLatency(.seconds(10))
        let pairs = [SubjectPair(userId: "fast", anonymousId: nil)] + (0..<20).map { SubjectPair(userId: "slow-\($0)", anonymousId: "a-\($0)") }
        let started = ContinuousClock.now
        let answers = await resolver.resolve(pairs, within: .milliseconds(200))
        let took = ContinuousClock.now - started
        // Waiting for the lookups would take 10 s; the deadline answers at 0.2 s (give a loaded machine room).
        #expect(took < .seconds(5), "\(took)")
        #expect(answers[0].outcome == .fresh(record("fast", ["Analytics": true])))
        for (index, answer) in answers.enumerated().dropFirst() {
            #expect(answer.outcome == .unavailable)
            #expect(answer.subject == "slow-\(index - 1)")
        }
        // The first lookup warmed the cache; then at most the store's bound, none started after the deadline.
        #expect(store.totalLookups - 1 <= 4)
    }

    @Test func anEmptyListAnswersNothing() async {
        let resolver = makeResolver(FakeStore())
        #expect(await resolver.resolve([], within: .seconds(1)).isEmpty)
    }

    /// A wrapper passes its store's bound on (the gateway wraps every store; a lost bound of 8 made one
    /// request's 2 500 misses against a 32-slot service four times slower).
    @Test func wrappersPassTheStoresBoundOn() {
        let store = AliasedConsentStore(base: FakeStore([], maxConcurrentLookups: 32), aliases: CategoryAliases(["C0002": "Analytics"]))
        #expect(store.maxConcurrentLookups == 32)
    }
}
