import SegmentWire
import Testing

@testable import ConsentCore

private typealias Cache = ConsentCache<String>

private let t0 = CacheInstant.zero

private func exact(capacity: Int = 100, ttl: Duration = .seconds(300), negativeTTL: Duration = .seconds(60)) -> Cache {
    Cache(configuration: .init(capacity: capacity, ttl: ttl, negativeTTL: negativeTTL, jitter: 0, lruSlack: 0))
}

/// Looks up a key expecting a fetch, then reports the fetch's answer.
@discardableResult
private func fill(
    _ cache: inout Cache,
    _ key: String,
    _ record: ConsentRecord?,
    at now: CacheInstant = t0,
    rng: inout SeededRNG
) -> LookupOutcome {
    guard case .fetch(let token) = cache.lookup(key, now: now) else {
        Issue.record("expected a fetch for \(key)")
        return .unavailable
    }
    return cache.fetchSucceeded(key, token: token, record: record, now: now, using: &rng)
}

@Suite struct ConsentCacheTests {
    @Test func defaults() {
        let configuration = ConsentCacheConfiguration()
        #expect(configuration.capacity == 100_000)
        #expect(configuration.ttl == .seconds(300))
        #expect(configuration.negativeTTL == .seconds(60))
        #expect(configuration.maxStaleGrant == .seconds(30))
        #expect(configuration.jitter == 0.1)
        #expect(configuration.lruSlack == 0.125)
        #expect(Cache.Configuration() == configuration)
    }

    @Test func anEntryUsedWithinTheSlackStaysWhereItIs() {
        // Capacity 16 at slack 1/4: an entry used again within 4 moves to the front is not moved.
        var cache = Cache(configuration: .init(capacity: 16, jitter: 0, lruSlack: 0.25))
        var rng = SeededRNG()
        for key in ["a", "b", "c", "d", "e", "f"] { fill(&cache, key, record(key, ["Analytics": true]), rng: &rng) }
        #expect(cache.keysByRecency() == ["f", "e", "d", "c", "b", "a"])
        // "c" went to the front 3 moves ago: a hit leaves it in place, yet counts.
        _ = cache.lookup("c", now: t0)
        #expect(cache.keysByRecency() == ["f", "e", "d", "c", "b", "a"])
        #expect(cache.statistics.hits == 1)
        // "b" went to the front 4 moves ago: it moves.
        _ = cache.lookup("b", now: t0)
        #expect(cache.keysByRecency() == ["b", "f", "e", "d", "c", "a"])
        // And the order is exact again once the slack is 0.
        var exact = exact(capacity: 16)
        for key in ["a", "b", "c"] { fill(&exact, key, record(key, ["Analytics": true]), rng: &rng) }
        _ = exact.lookup("b", now: t0)
        #expect(exact.keysByRecency() == ["b", "c", "a"])
    }

    @Test func slotsAreSmall() {
        // Key bytes + record + expiry + two Int32 links; no object per entry.
        #expect(Cache.bytesPerSlot <= 80)
    }

    @Test func missFetchHit() {
        var cache = exact()
        var rng = SeededRNG()
        let truth = record("u1", ["Analytics": true])
        guard case .fetch(let token) = cache.lookup("u1", now: t0) else {
            Issue.record("expected a fetch")
            return
        }
        #expect(cache.fetchesInFlight == 1)
        #expect(cache.fetchSucceeded("u1", token: token, record: truth, now: t0, using: &rng) == .fresh(truth))
        #expect(cache.fetchesInFlight == 0)
        #expect(cache.lookup("u1", now: t0 + .seconds(1)) == .hit(truth))
        #expect(cache.count == 1)
        #expect(cache.misses == 1)
        #expect(cache.hits == 1)
        #expect(cache.statistics.count == 1)
    }

    @Test func ttlExpiry() {
        var cache = exact(ttl: .seconds(300))
        var rng = SeededRNG()
        let truth = record("u1", ["Analytics": true])
        fill(&cache, "u1", truth, rng: &rng)
        #expect(cache.expiry(of: "u1") == t0 + .seconds(300))
        #expect(cache.lookup("u1", now: t0 + .seconds(300) - .nanoseconds(1)) == .hit(truth))
        guard case .fetch = cache.lookup("u1", now: t0 + .seconds(300)) else {
            Issue.record("an entry is expired at its expiry")
            return
        }
        #expect(cache.count == 1)  // kept for the stale rules
        #expect(cache.misses == 2)
    }

    @Test func jitterBounds() {
        var cache = Cache(configuration: .init(capacity: 10_000, ttl: .seconds(300), negativeTTL: .seconds(60)))
        var rng = SeededRNG(seed: 42)
        for index in 0..<2_000 {
            fill(&cache, "u\(index)", index.isMultiple(of: 2) ? record("u\(index)", ["A": true]) : nil, rng: &rng)
        }
        var positive: [Duration] = []
        var negative: [Duration] = []
        for index in 0..<2_000 {
            let lifetime = t0.duration(to: cache.expiry(of: "u\(index)")!)
            if index.isMultiple(of: 2) { positive.append(lifetime) } else { negative.append(lifetime) }
        }
        #expect(positive.allSatisfy { $0 >= .seconds(270) && $0 <= .seconds(330) })
        #expect(negative.allSatisfy { $0 >= .seconds(54) && $0 <= .seconds(66) })
        // Spread over the range, not all equal.
        #expect(Set(positive).count > 900)
        #expect(positive.min()! < .seconds(276) && positive.max()! > .seconds(324))
        #expect(negative.min()! < .milliseconds(55_200) && negative.max()! > .milliseconds(64_800))
    }

    @Test func jitterIsClamped() {
        var cache = Cache(configuration: .init(ttl: .seconds(10), jitter: 5))
        var rng = SeededRNG()
        for index in 0..<200 { fill(&cache, "u\(index)", record("u\(index)", [:]), rng: &rng) }
        for index in 0..<200 {
            let lifetime = t0.duration(to: cache.expiry(of: "u\(index)")!)
            #expect(lifetime >= .zero && lifetime <= .seconds(20))
        }
    }

    @Test func negativeEntries() {
        var cache = exact(ttl: .seconds(300), negativeTTL: .seconds(60))
        var rng = SeededRNG()
        #expect(fill(&cache, "ghost", nil, rng: &rng) == .unknown)
        #expect(cache.expiry(of: "ghost") == t0 + .seconds(60))
        #expect(cache.lookup("ghost", now: t0 + .seconds(59)) == .negativeHit)
        #expect(cache.negativeHits == 1)
        #expect(cache.hits == 0)
        guard case .fetch = cache.lookup("ghost", now: t0 + .seconds(60)) else {
            Issue.record("a negative entry expires after the negative TTL")
            return
        }
    }

    @Test func lruOrderAndEviction() {
        var cache = exact(capacity: 3)
        var rng = SeededRNG()
        for key in ["a", "b", "c"] { fill(&cache, key, record(key, ["X": true]), rng: &rng) }
        #expect(cache.keysByRecency() == ["c", "b", "a"])
        // Touching refreshes recency.
        #expect(cache.lookup("a", now: t0) == .hit(record("a", ["X": true])))
        #expect(cache.keysByRecency() == ["a", "c", "b"])
        // Inserting past capacity evicts the least recently used.
        fill(&cache, "d", record("d", ["X": false]), rng: &rng)
        #expect(cache.keysByRecency() == ["d", "a", "c"])
        #expect(cache.evictions == 1)
        #expect(cache.count == 3)
        #expect(cache.expiry(of: "b") == nil)
        // A negative hit also refreshes recency; negative entries are evicted like positive ones.
        fill(&cache, "n", nil, rng: &rng)
        #expect(cache.keysByRecency() == ["n", "d", "a"])
        #expect(cache.lookup("a", now: t0) != .negativeHit)
        #expect(cache.lookup("n", now: t0) == .negativeHit)
        #expect(cache.keysByRecency() == ["n", "a", "d"])
        fill(&cache, "e", record("e", [:]), rng: &rng)
        #expect(cache.keysByRecency() == ["e", "n", "a"])
        #expect(cache.evictions == 3)
    }

    @Test func refetchUpdatesInPlace() {
        var cache = exact(capacity: 2)
        var rng = SeededRNG()
        fill(&cache, "a", record("a", ["X": true], version: 1), rng: &rng)
        fill(&cache, "b", record("b", ["X": true]), rng: &rng)
        // "a" expires and is fetched again: the entry is replaced, becomes most recent, nothing evicted.
        let later = t0 + .seconds(400)
        fill(&cache, "a", record("a", ["X": false], version: 2), at: later, rng: &rng)
        #expect(cache.keysByRecency() == ["a", "b"])
        #expect(cache.evictions == 0)
        #expect(cache.lookup("a", now: later) == .hit(record("a", ["X": false], version: 2)))
        #expect(cache.expiry(of: "a") == later + .seconds(300))
        // A positive entry can turn negative (the subject was erased) and back.
        fill(&cache, "a", nil, at: later + .seconds(400), rng: &rng)
        #expect(cache.lookup("a", now: later + .seconds(401)) == .negativeHit)
    }

    @Test func capacityZeroCachesNothing() {
        var cache = exact(capacity: 0)
        var rng = SeededRNG()
        let truth = record("a", ["X": true])
        #expect(fill(&cache, "a", truth, rng: &rng) == .fresh(truth))
        #expect(cache.count == 0)
        guard case .fetch = cache.lookup("a", now: t0) else {
            Issue.record("nothing is cached at capacity 0")
            return
        }
    }

    @Test func singleFlight() {
        var cache = exact()
        var rng = SeededRNG()
        guard case .fetch(let token) = cache.lookup("u1", now: t0) else {
            Issue.record("expected a fetch")
            return
        }
        for _ in 0..<5 { #expect(cache.lookup("u1", now: t0) == .join(token)) }
        #expect(cache.coalesced == 5)
        #expect(cache.misses == 1)
        // Another key fetches on its own.
        guard case .fetch(let other) = cache.lookup("u2", now: t0), other != token else {
            Issue.record("a different key needs its own fetch")
            return
        }
        let truth = record("u1", ["A": true])
        #expect(cache.fetchSucceeded("u1", token: token, record: truth, now: t0, using: &rng) == .fresh(truth))
        #expect(cache.lookup("u1", now: t0) == .hit(truth))
        #expect(cache.fetchesInFlight == 1)
    }

    @Test func errorsAreNeverCached() {
        var cache = exact()
        guard case .fetch(let token) = cache.lookup("u1", now: t0) else {
            Issue.record("expected a fetch")
            return
        }
        #expect(cache.fetchFailed("u1", token: token, now: t0) == .unavailable)
        #expect(cache.count == 0)
        #expect(cache.fetchesInFlight == 0)
        // The next lookup asks the store again: no negative entry was made from the error.
        guard case .fetch(let again) = cache.lookup("u1", now: t0), again != token else {
            Issue.record("an error must not be cached")
            return
        }
        #expect(cache.negativeHits == 0)
        #expect(cache.staleServed == 0)
    }

    @Test func failedRefreshServesTheStaleRecord() {
        var cache = exact(ttl: .seconds(300))
        var rng = SeededRNG()
        let truth = record("u1", ["A": true])
        fill(&cache, "u1", truth, rng: &rng)
        let now = t0 + .seconds(345)
        guard case .fetch(let token) = cache.lookup("u1", now: now) else {
            Issue.record("expected a refresh")
            return
        }
        #expect(cache.lookup("u1", now: now) == .join(token))
        #expect(cache.fetchFailed("u1", token: token, now: now) == .stale(truth, expiredFor: .seconds(45)))
        #expect(cache.staleServed == 1)
        // Still there for the next failure, and the next lookup tries the store again.
        #expect(cache.count == 1)
        guard case .fetch(let next) = cache.lookup("u1", now: now + .seconds(5)) else {
            Issue.record("expected a refresh")
            return
        }
        #expect(cache.fetchFailed("u1", token: next, now: now + .seconds(5)) == .stale(truth, expiredFor: .seconds(50)))
    }

    @Test func staleNegativeEntryIsUnavailable() {
        var cache = exact(negativeTTL: .seconds(60))
        var rng = SeededRNG()
        fill(&cache, "ghost", nil, rng: &rng)
        let now = t0 + .seconds(61)
        guard case .fetch(let token) = cache.lookup("ghost", now: now) else {
            Issue.record("expected a refresh")
            return
        }
        #expect(cache.fetchFailed("ghost", token: token, now: now) == .unavailable)
        #expect(cache.staleServed == 0)
    }

    @Test func failureAfterAnotherFetchRefreshedTheEntry() {
        var cache = exact()
        var rng = SeededRNG()
        guard case .fetch(let first) = cache.lookup("u1", now: t0) else { return }
        cache.invalidate("u1")  // detaches the first fetch
        guard case .fetch(let second) = cache.lookup("u1", now: t0) else {
            Issue.record("after invalidation a new fetch starts")
            return
        }
        let truth = record("u1", ["A": false])
        #expect(cache.fetchSucceeded("u1", token: second, record: truth, now: t0, using: &rng) == .fresh(truth))
        // The detached first fetch fails: its waiters get the entry the second one made.
        #expect(cache.fetchFailed("u1", token: first, now: t0) == .fresh(truth))
    }

    @Test func invalidateDetachesTheFetchInFlight() {
        var cache = exact()
        var rng = SeededRNG()
        let old = record("u1", ["A": true], version: 1)
        fill(&cache, "u1", old, rng: &rng)
        cache.invalidate("u1")
        #expect(cache.count == 0)
        #expect(cache.expiry(of: "u1") == nil)
        guard case .fetch(let token) = cache.lookup("u1", now: t0) else {
            Issue.record("expected a fetch")
            return
        }
        // The consent changes while the fetch is in flight: its answer may predate the change.
        cache.invalidate("u1")
        #expect(cache.fetchesInFlight == 0)
        #expect(cache.fetchSucceeded("u1", token: token, record: old, now: t0, using: &rng) == .fresh(old))
        #expect(cache.count == 0)
        guard case .fetch(let fresh) = cache.lookup("u1", now: t0), fresh != token else {
            Issue.record("the detached answer must not be cached")
            return
        }
        // Invalidating an unknown key is harmless.
        cache.invalidate("nobody")
    }

    @Test func markAllStale() {
        var cache = exact(ttl: .seconds(300))
        var rng = SeededRNG()
        let a = record("a", ["A": true])
        fill(&cache, "a", a, rng: &rng)
        fill(&cache, "n", nil, rng: &rng)
        guard case .fetch(let inFlight) = cache.lookup("b", now: t0) else { return }
        let now = t0 + .seconds(10)
        cache.markAllStale(now: now)
        #expect(cache.count == 2)
        #expect(cache.expiry(of: "a") == now)
        #expect(cache.fetchesInFlight == 0)
        // The detached fetch still answers its waiters but is not cached.
        #expect(cache.fetchSucceeded("b", token: inFlight, record: nil, now: now, using: &rng) == .unknown)
        #expect(cache.expiry(of: "b") == nil)
        // Every entry refreshes; a failure serves the record as stale from the moment of marking.
        guard case .fetch(let token) = cache.lookup("a", now: now + .seconds(2)) else {
            Issue.record("a stale entry is refreshed")
            return
        }
        #expect(cache.fetchFailed("a", token: token, now: now + .seconds(2)) == .stale(a, expiredFor: .seconds(2)))
        guard case .fetch = cache.lookup("n", now: now) else {
            Issue.record("a stale negative entry is refreshed")
            return
        }
        // An entry that had already expired keeps its earlier expiry.
        var other = exact(ttl: .seconds(5))
        fill(&other, "x", a, rng: &rng)
        other.markAllStale(now: t0 + .seconds(10))
        #expect(other.expiry(of: "x") == t0 + .seconds(5))
    }

    @Test func removeAll() {
        var cache = exact(capacity: 3)
        var rng = SeededRNG()
        for key in ["a", "b", "c"] { fill(&cache, key, record(key, [:]), rng: &rng) }
        guard case .fetch = cache.lookup("d", now: t0) else { return }
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(cache.fetchesInFlight == 0)
        #expect(cache.keysByRecency() == [])
        for key in ["x", "y", "z", "w"] { fill(&cache, key, record(key, [:]), rng: &rng) }
        #expect(cache.keysByRecency() == ["w", "z", "y"])
        #expect(cache.misses == 8)  // counters survive
    }

    @Test func recordsShareEqualPreferences() {
        var cache = exact()
        var rng = SeededRNG()
        fill(&cache, "a", record("a", ["Analytics": true, "Advertising": false]), rng: &rng)
        fill(&cache, "b", record("b", ["Advertising": false, "Analytics": true], version: 7), rng: &rng)
        fill(&cache, "c", record("c", ["Analytics": false]), rng: &rng)
        guard case .hit(let a) = cache.lookup("a", now: t0), case .hit(let b) = cache.lookup("b", now: t0),
            case .hit(let c) = cache.lookup("c", now: t0)
        else {
            Issue.record("expected hits")
            return
        }
        let storage = { (record: ConsentRecord) in record.preferences.withUnsafeBufferPointer { $0.baseAddress } }
        #expect(storage(a) == storage(b))
        #expect(storage(a) != storage(c))
        #expect(b.version == 7 && b.subject == "b")
    }

    /// Random operations against a plain reference model of an LRU with TTLs.
    @Test(arguments: [1 as UInt64, 2, 3, 4])
    func matchesAReferenceModel(seed: UInt64) {
        let capacity = 8
        var cache = exact(capacity: capacity, ttl: .seconds(100), negativeTTL: .seconds(20))
        var rng = SeededRNG(seed: seed)
        var chooser = SeededRNG(seed: seed &* 31)
        // The model: keys from most to least recent, with their value (nil = negative) and expiry.
        var model: [(key: String, value: ConsentRecord?, expiry: CacheInstant)] = []
        var now = t0
        for step in 0..<3_000 {
            now = now + .seconds(Int64.random(in: 0...3, using: &chooser))
            let key = "k\(Int.random(in: 0..<14, using: &chooser))"
            switch Int.random(in: 0..<10, using: &chooser) {
            case 0:
                cache.invalidate(key)
                model.removeAll { $0.key == key }
            default:
                let action = cache.lookup(key, now: now)
                if let position = model.firstIndex(where: { $0.key == key }), now < model[position].expiry {
                    let entry = model.remove(at: position)
                    model.insert(entry, at: 0)
                    #expect(action == (entry.value.map { .hit($0) } ?? .negativeHit), "step \(step)")
                    continue
                }
                guard case .fetch(let token) = action else {
                    Issue.record("step \(step): expected a fetch, got \(action)")
                    return
                }
                let value = step.isMultiple(of: 3) ? nil : record(key, ["S": step.isMultiple(of: 2)], version: Int64(step))
                _ = cache.fetchSucceeded(key, token: token, record: value, now: now, using: &rng)
                model.removeAll { $0.key == key }
                model.insert((key, value, now + (value == nil ? .seconds(20) : .seconds(100))), at: 0)
                if model.count > capacity { model.removeLast() }
            }
            #expect(cache.keysByRecency() == model.map(\.key), "step \(step)")
            #expect(cache.count == model.count)
        }
    }
}
