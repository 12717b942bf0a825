import ConsentCore
import SegmentWire
import Testing

private func makeResolver(
    _ store: FakeStore,
    clock: FakeClock = FakeClock(),
    ttl: Duration = .seconds(300),
    negativeTTL: Duration = .seconds(60),
    jitter: Double = 0
) -> ConsentResolver {
    ConsentResolver(
        store: store,
        configuration: ConsentCacheConfiguration(capacity: 1_000, ttl: ttl, negativeTTL: negativeTTL, jitter: jitter),
        clock: clock.closure,
        rng: SeededRNG()
    )
}

@Suite struct ConsentResolverTests {
    @Test func missThenHit() async {
        let truth = record("u1", ["Analytics": true])
        let store = FakeStore([truth])
        let resolver = makeResolver(store)
        #expect(await resolver.resolve(subject: "u1") == .fresh(truth))
        #expect(await resolver.resolve(subject: "u1") == .fresh(truth))
        #expect(store.totalLookups == 1)
        let statistics = resolver.statistics
        #expect(statistics.misses == 1 && statistics.hits == 1 && statistics.count == 1)
    }

    @Test func singleFlightForOneHundredConcurrentResolves() async throws {
        let truth = record("u1", ["Analytics": true, "Advertising": false], version: 4)
        let store = FakeStore([truth])
        let gate = Gate()
        store.hold(at: gate)
        let resolver = makeResolver(store)
        try await withThrowingTaskGroup(of: LookupOutcome.self) { group in
            for _ in 0..<100 {
                group.addTask { await resolver.resolve(subject: "u1") }
            }
            // Every caller has either started the one fetch or joined it.
            #expect(try await eventually { store.totalLookups == 1 && resolver.statistics.coalesced == 99 })
            gate.open()
            var outcomes: [LookupOutcome] = []
            for try await outcome in group { outcomes.append(outcome) }
            #expect(outcomes.count == 100)
            #expect(outcomes.allSatisfy { $0 == .fresh(truth) })
        }
        #expect(store.lookups(of: "u1") == 1)
        #expect(resolver.statistics.misses == 1)
        #expect(await resolver.resolve(subject: "u1") == .fresh(truth))
        #expect(store.totalLookups == 1)
    }

    @Test func singleFlightPerKey() async throws {
        let store = FakeStore([record("a", ["X": true]), record("b", ["X": false])])
        let gate = Gate()
        store.hold(at: gate)
        let resolver = makeResolver(store)
        try await withThrowingTaskGroup(of: (String, LookupOutcome).self) { group in
            for index in 0..<60 {
                let subject = ["a", "b", "ghost"][index % 3]
                group.addTask { (subject, await resolver.resolve(subject: subject)) }
            }
            #expect(try await eventually { store.totalLookups == 3 && resolver.statistics.coalesced == 57 })
            gate.open()
            for try await (subject, outcome) in group {
                switch subject {
                case "a": #expect(outcome == .fresh(record("a", ["X": true])))
                case "b": #expect(outcome == .fresh(record("b", ["X": false])))
                default: #expect(outcome == .unknown)
                }
            }
        }
        #expect(store.lookups(of: "a") == 1 && store.lookups(of: "b") == 1 && store.lookups(of: "ghost") == 1)
        #expect(await resolver.resolve(subject: "ghost") == .unknown)
        #expect(resolver.statistics.negativeHits == 1)
    }

    @Test func concurrentResolvesWithInvalidationsNeverHang() async {
        let records = (0..<10).map { record("u\($0)", ["A": $0.isMultiple(of: 2)]) }
        let store = FakeStore(records)
        let resolver = makeResolver(store, ttl: .seconds(300))
        await withTaskGroup(of: Bool.self) { group in
            for index in 0..<2_000 {
                group.addTask {
                    let subject = "u\(index % 10)"
                    if index.isMultiple(of: 7) { resolver.invalidate(subject: subject) }
                    if index.isMultiple(of: 101) { resolver.markAllStale() }
                    return await resolver.resolve(subject: subject) == .fresh(records[index % 10])
                }
            }
            for await correct in group { #expect(correct) }
        }
        #expect(store.totalLookups <= 2_000)
    }

    @Test func waitersShareAFailure() async throws {
        let store = FakeStore([record("u1", ["A": true])])
        store.setFailing(true)
        let gate = Gate()
        store.hold(at: gate)
        let resolver = makeResolver(store)
        try await withThrowingTaskGroup(of: LookupOutcome.self) { group in
            for _ in 0..<20 { group.addTask { await resolver.resolve(subject: "u1") } }
            #expect(try await eventually { resolver.statistics.coalesced == 19 })
            gate.open()
            for try await outcome in group { #expect(outcome == .unavailable) }
        }
        #expect(store.totalLookups == 1)
    }

    @Test func errorsAreNeverCachedAsUnknown() async {
        let truth = record("u1", ["A": true])
        let store = FakeStore([truth])
        store.setFailing(true)
        let resolver = makeResolver(store)
        #expect(await resolver.resolve(subject: "u1") == .unavailable)
        #expect(await resolver.resolve(subject: "u1") == .unavailable)
        #expect(store.totalLookups == 2)  // each resolve asked again
        #expect(resolver.statistics.count == 0)
        store.setFailing(false)
        #expect(await resolver.resolve(subject: "u1") == .fresh(truth))
        // Likewise for a subject the store does not know: a failure is not "unknown".
        store.setFailing(true)
        #expect(await resolver.resolve(subject: "ghost") == .unavailable)
        store.setFailing(false)
        #expect(await resolver.resolve(subject: "ghost") == .unknown)
    }

    @Test func staleRecordAfterExpiry() async {
        let clock = FakeClock()
        let truth = record("u1", ["A": true])
        let store = FakeStore([truth])
        let resolver = makeResolver(store, clock: clock, ttl: .seconds(300))
        #expect(await resolver.resolve(subject: "u1") == .fresh(truth))
        clock.advance(by: .seconds(299))
        #expect(await resolver.resolve(subject: "u1") == .fresh(truth))
        #expect(store.totalLookups == 1)
        clock.advance(by: .seconds(21))
        store.setFailing(true)
        #expect(await resolver.resolve(subject: "u1") == .stale(truth, expiredFor: .seconds(20)))
        #expect(resolver.statistics.staleServed == 1)
        // The store recovers: the entry is refreshed.
        store.setFailing(false)
        let updated = record("u1", ["A": false], version: 2)
        store.set(updated)
        #expect(await resolver.resolve(subject: "u1") == .fresh(updated))
    }

    @Test func negativeEntriesExpire() async {
        let clock = FakeClock()
        let store = FakeStore()
        let resolver = makeResolver(store, clock: clock, negativeTTL: .seconds(60))
        #expect(await resolver.resolve(subject: "new") == .unknown)
        clock.advance(by: .seconds(59))
        #expect(await resolver.resolve(subject: "new") == .unknown)
        #expect(store.totalLookups == 1)
        let created = record("new", ["A": true])
        store.set(created)
        clock.advance(by: .seconds(1))
        #expect(await resolver.resolve(subject: "new") == .fresh(created))
        // A stale negative entry cannot stand in for a failed store.
        clock.advance(by: .seconds(400))
        store.state.withLock { $0.records["new"] = nil }
        #expect(await resolver.resolve(subject: "new") == .unknown)
        clock.advance(by: .seconds(61))
        store.setFailing(true)
        #expect(await resolver.resolve(subject: "new") == .unavailable)
    }

    /// The cache and the engine together: a stale deny serves after the grant window, a stale grant
    /// only within it.
    @Test func staleRulesEndToEnd() async {
        let clock = FakeClock()
        let truth = record("u1", ["Advertising": false, "Analytics": true])
        let store = FakeStore([truth])
        let resolver = makeResolver(store, clock: clock, ttl: .seconds(300))
        let policy = ConsentPolicy()
        let overGranting = stamp(["Advertising": true, "Analytics": true])
        let matching = stamp(["Analytics": true])
        func decide(_ entries: [CategoryPreference]) async -> ConsentDecision {
            let outcome = await resolver.resolve(subject: "u1")
            return VerdictEngine.decide(
                isPreferenceUpdate: false, stamp: entries, lookup: outcome, gpc: false, policy: policy,
                maxStaleGrant: resolver.configuration.maxStaleGrant
            )
        }
        _ = await resolver.resolve(subject: "u1")
        store.setFailing(true)
        clock.advance(by: .seconds(310))  // expired 10 s ago: within the 30 s window
        #expect(await decide(matching).decided == .forward)
        #expect(await decide(overGranting).decided == .drop)
        clock.advance(by: .seconds(60))  // expired 70 s ago
        let grant = await decide(matching)
        #expect(grant.verdict == .storeUnavailable && grant.decided == .reject)
        let deny = await decide(overGranting)
        #expect(deny.verdict == .mismatch(over: ["Advertising"], under: []) && deny.decided == .drop)
        #expect(deny.staleness == .seconds(70))
    }

    @Test func invalidate() async {
        let store = FakeStore([record("u1", ["A": true], version: 1)])
        let resolver = makeResolver(store)
        _ = await resolver.resolve(subject: "u1")
        let updated = record("u1", ["A": false], version: 2)
        store.set(updated)
        #expect(await resolver.resolve(subject: "u1") != .fresh(updated))
        resolver.invalidate(subject: "u1")
        #expect(await resolver.resolve(subject: "u1") == .fresh(updated))
        #expect(store.totalLookups == 2)
    }

    @Test func invalidationDuringAFetchIsNotLost() async throws {
        let old = record("u1", ["A": true], version: 1)
        let store = FakeStore([old])
        let gate = Gate()
        store.hold(at: gate)
        let resolver = makeResolver(store)
        let pending = Task { await resolver.resolve(subject: "u1") }
        #expect(try await eventually { store.totalLookups == 1 })
        // The fetch has read nothing yet, but the answer it brings back may predate this invalidation.
        resolver.invalidate(subject: "u1")
        gate.open()
        #expect(await pending.value == .fresh(old))
        store.hold(at: nil)
        #expect(await resolver.resolve(subject: "u1") == .fresh(old))
        #expect(store.totalLookups == 2)  // the detached answer was not cached
    }

    @Test func markAllStaleAndRemoveAll() async {
        let clock = FakeClock()
        let truth = record("u1", ["A": true])
        let store = FakeStore([truth])
        let resolver = makeResolver(store, clock: clock)
        _ = await resolver.resolve(subject: "u1")
        clock.advance(by: .seconds(5))
        resolver.markAllStale()
        store.setFailing(true)
        clock.advance(by: .seconds(2))
        #expect(await resolver.resolve(subject: "u1") == .stale(truth, expiredFor: .seconds(2)))
        store.setFailing(false)
        #expect(await resolver.resolve(subject: "u1") == .fresh(truth))
        #expect(store.totalLookups == 3)
        resolver.removeAll()
        #expect(resolver.statistics.count == 0)
        store.setFailing(true)
        #expect(await resolver.resolve(subject: "u1") == .unavailable)
    }

    // MARK: Subject resolution

    @Test func subjectIsTheUserIdWhenTheStoreKnowsIt() async {
        let user = record("user", ["A": true])
        let anonymous = record("anon", ["A": false])
        let store = FakeStore([user, anonymous])
        let resolver = makeResolver(store)
        let resolved = await resolver.resolve(userId: "user", anonymousId: "anon")
        #expect(resolved.subject == "user" && resolved.outcome == .fresh(user))
        #expect(store.lookups(of: "anon") == 0)
    }

    @Test func subjectFallsBackToTheAnonymousId() async {
        let anonymous = record("anon", ["A": false])
        let store = FakeStore([anonymous])
        let resolver = makeResolver(store)
        let resolved = await resolver.resolve(userId: "user", anonymousId: "anon")
        #expect(resolved.subject == "anon" && resolved.outcome == .fresh(anonymous))
        let anonymousOnly = await resolver.resolve(userId: nil, anonymousId: "anon")
        #expect(anonymousOnly.subject == "anon" && anonymousOnly.outcome == .fresh(anonymous))
        let emptyUserId = await resolver.resolve(userId: "", anonymousId: "anon")
        #expect(emptyUserId.subject == "anon" && emptyUserId.outcome == .fresh(anonymous))
    }

    @Test func subjectUnknown() async {
        let resolver = makeResolver(FakeStore())
        let both = await resolver.resolve(userId: "user", anonymousId: "anon")
        #expect(both.subject == "user" && both.outcome == .unknown)
        let anonymousOnly = await resolver.resolve(userId: nil, anonymousId: "anon")
        #expect(anonymousOnly.subject == "anon" && anonymousOnly.outcome == .unknown)
        let neither = await resolver.resolve(userId: nil, anonymousId: "")
        #expect(neither.subject == nil && neither.outcome == .unknown)
    }

    @Test func subjectUnavailable() async {
        let store = FakeStore([record("anon", ["A": true])])
        store.setFailing(subject: "user")
        let resolver = makeResolver(store)
        // The userId's truth takes precedence and cannot be read: no fallback to the anonymousId.
        let userFails = await resolver.resolve(userId: "user", anonymousId: "anon")
        #expect(userFails.subject == "user" && userFails.outcome == .unavailable)
        #expect(store.lookups(of: "anon") == 0)
        // The userId is unknown and the anonymousId cannot be read.
        let other = FakeStore()
        other.setFailing(subject: "anon")
        let second = makeResolver(other)
        let anonymousFails = await second.resolve(userId: "user", anonymousId: "anon")
        #expect(anonymousFails.subject == "anon" && anonymousFails.outcome == .unavailable)
    }

    @Test func subjectWithAStaleUserRecord() async {
        let clock = FakeClock()
        let user = record("user", ["A": true])
        let store = FakeStore([user, record("anon", ["A": false])])
        let resolver = makeResolver(store, clock: clock)
        _ = await resolver.resolve(subject: "user")
        clock.advance(by: .seconds(301))
        store.setFailing(subject: "user")
        let resolved = await resolver.resolve(userId: "user", anonymousId: "anon")
        #expect(resolved.subject == "user" && resolved.outcome == .stale(user, expiredFor: .seconds(1)))
    }

    @Test func jitteredEntriesStayWithinBounds() async {
        let clock = FakeClock()
        let store = FakeStore((0..<50).map { record("u\($0)", ["A": true]) })
        let resolver = makeResolver(store, clock: clock, ttl: .seconds(100), jitter: 0.1)
        for index in 0..<50 { _ = await resolver.resolve(subject: "u\(index)") }
        clock.advance(by: .seconds(89))
        for index in 0..<50 { _ = await resolver.resolve(subject: "u\(index)") }
        #expect(store.totalLookups == 50)  // none expired before 90 s
        clock.advance(by: .seconds(22))
        for index in 0..<50 { _ = await resolver.resolve(subject: "u\(index)") }
        #expect(store.totalLookups == 100)  // all expired by 110 s
    }
}
