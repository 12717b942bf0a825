import SegmentWire
import Testing

@testable import ConsentCore

/// The cache's compact storage: the open-addressing index, the slot free list and the shared
/// preference sets, under many more keys and deletions than the behavioural tests use.
@Suite struct ConsentCacheStorageTests {
    private typealias Cache = ConsentCache<String>
    private let t0 = CacheInstant.zero

    private func fill(_ cache: inout Cache, _ key: String, _ value: ConsentRecord?, at now: CacheInstant, rng: inout SeededRNG) {
        guard case .fetch(let token) = cache.lookup(key, now: now) else {
            Issue.record("expected a fetch for \(key)")
            return
        }
        _ = cache.fetchSucceeded(key, token: token, record: value, now: now, using: &rng)
    }

    @Test func entriesAreSmall() {
        // An 80-byte slot, its key of up to 39 bytes inside, and an 8-byte bucket per entry.
        #expect(Cache.bytesPerSlot == 80)
        #expect(Cache.bytesPerBucket == 8)
    }

    /// Keys of 39 bytes are held in their slots, longer ones aside: both answer, by key and by bytes,
    /// are evicted and invalidated alike, and give their records' subjects back.
    @Test func keysLongerThanASlotHoldsAreKeptAside() {
        var cache = Cache(configuration: .init(capacity: 3, ttl: .seconds(1_000), jitter: 0, lruSlack: 0))
        var rng = SeededRNG()
        let inline = String(repeating: "i", count: 39)
        let long = String(repeating: "l", count: 40)
        let longer = "user:" + String(repeating: "0123456789abcdef", count: 16)
        for key in [inline, long, longer] {
            fill(&cache, key, record(key, ["A": true], version: 1), at: t0, rng: &rng)
        }
        for key in [inline, long, longer] {
            #expect(cache.lookup(key, now: t0) == .hit(record(key, ["A": true], version: 1)))
            #expect(Array(key.utf8).withUnsafeBytes { cache.freshEntry(bytes: $0, now: t0) } != nil)
        }
        // Same length, one byte apart: no match.
        #expect(cache.freshEntry(String(repeating: "l", count: 39) + "m", now: t0) == nil)
        #expect(cache.keysByRecency() == [longer, long, inline])
        // The least recently used long key is evicted for a new one.
        _ = cache.lookup(inline, now: t0)
        _ = cache.lookup(longer, now: t0)
        fill(&cache, "short", nil, at: t0, rng: &rng)
        #expect(cache.keysByRecency() == ["short", longer, inline])
        #expect(cache.lookup(long, now: t0) != .hit(record(long, ["A": true], version: 1)))
        cache.invalidate(longer)
        #expect(cache.keysByRecency() == ["short", inline])
        #expect(cache.freshEntry(longer, now: t0) == nil)
    }

    /// The batched form of a lookup (hash first, prefetches, then the lookup by hash) finds what the
    /// plain one finds, and prefetching changes nothing, in an empty cache too.
    @Test func aLookupByHashAfterPrefetchesFindsWhatALookupFinds() {
        var cache = Cache(configuration: .init(capacity: 1_000, ttl: .seconds(1_000), jitter: 0, lruSlack: 0))
        var rng = SeededRNG()
        Array("nobody".utf8).withUnsafeBytes { bytes in
            cache.prefetchBucket(hash: cache.hash(bytes: bytes))
            cache.prefetchSlot(hash: cache.hash(bytes: bytes))
        }
        for i in 0..<500 { fill(&cache, "user-\(i)", i.isMultiple(of: 4) ? nil : record("user-\(i)", ["A": true]), at: t0, rng: &rng) }
        let recency = cache.keysByRecency()
        let statistics = cache.statistics
        let keys = (0..<700).map { Array("user-\($0)".utf8) }
        let hashes = keys.map { key in key.withUnsafeBytes { cache.hash(bytes: $0) } }
        for hash in hashes { cache.prefetchBucket(hash: hash) }
        for hash in hashes { cache.prefetchSlot(hash: hash) }
        #expect(cache.keysByRecency() == recency)
        #expect(cache.statistics == statistics)
        for (key, hash) in zip(keys, hashes) {
            let byHash = key.withUnsafeBytes { cache.freshEntry(bytes: $0, hash: hash, now: t0) }
            let plain = key.withUnsafeBytes { cache.freshEntry(bytes: $0, now: t0) }
            #expect(byHash?.isNegative == plain?.isNegative)
            #expect((byHash == nil) == (plain == nil))
        }
        #expect(keys[..<500].allSatisfy { key in key.withUnsafeBytes { cache.freshEntry(bytes: $0, now: t0) } != nil })
    }

    /// Random inserts, hits, invalidations and evictions over a key space much larger than the
    /// capacity, checked against a reference model (so every probe chain and backward shift is used).
    @Test(arguments: [11 as UInt64, 12, 13])
    func manyKeysMatchAReferenceModel(seed: UInt64) {
        let capacity = 300
        var cache = Cache(configuration: .init(capacity: capacity, ttl: .seconds(1_000), negativeTTL: .seconds(1_000), jitter: 0, lruSlack: 0))
        var rng = SeededRNG(seed: seed)
        var chooser = SeededRNG(seed: seed &* 17)
        var recency: [String] = []  // most recent first
        var values: [String: ConsentRecord?] = [:]
        for step in 0..<20_000 {
            // A third of the keys are too long to be held in their slot.
            let number = Int.random(in: 0..<1_000, using: &chooser)
            let key = "subject-\(number)-with-a-long-id" + (number.isMultiple(of: 3) ? "-and-more-than-39-bytes-in-all" : "")
            if Int.random(in: 0..<8, using: &chooser) == 0 {
                cache.invalidate(key)
                recency.removeAll { $0 == key }
                values[key] = nil
                continue
            }
            let action = cache.lookup(key, now: t0)
            if let value = values[key] {
                #expect(action == (value.map { .hit($0) } ?? .negativeHit), "step \(step)")
                recency.removeAll { $0 == key }
                recency.insert(key, at: 0)
                continue
            }
            guard case .fetch(let token) = action else {
                Issue.record("step \(step): expected a fetch")
                return
            }
            let value: ConsentRecord? =
                step.isMultiple(of: 5) ? nil : record(key, ["A": step.isMultiple(of: 2), "B": step.isMultiple(of: 3)], version: Int64(step))
            _ = cache.fetchSucceeded(key, token: token, record: value, now: t0, using: &rng)
            values[key] = .some(value)
            recency.insert(key, at: 0)
            if recency.count > capacity { values[recency.removeLast()] = nil }
        }
        #expect(cache.keysByRecency() == recency)
        #expect(cache.count == recency.count)
        for (key, value) in values {
            #expect(cache.lookup(key, now: t0) == (value.map { .hit($0) } ?? .negativeHit))
        }
    }

    @Test func growsPastManyEntries() {
        var cache = Cache(configuration: .init(capacity: 50_000, jitter: 0))
        var rng = SeededRNG()
        for index in 0..<50_000 { fill(&cache, "u\(index)", record("u\(index)", ["A": index.isMultiple(of: 2)]), at: t0, rng: &rng) }
        #expect(cache.count == 50_000)
        for index in stride(from: 0, to: 50_000, by: 7) {
            #expect(cache.lookup("u\(index)", now: t0) == .hit(record("u\(index)", ["A": index.isMultiple(of: 2)])))
        }
        #expect(cache.evictions == 0)
    }

    @Test func aRecordWhoseSubjectIsNotItsKeyKeepsItsSubject() {
        var cache = Cache(configuration: .init(jitter: 0))
        var rng = SeededRNG()
        let other = record("someone-else", ["A": true])
        fill(&cache, "key", other, at: t0, rng: &rng)
        #expect(cache.lookup("key", now: t0) == .hit(other))
        // Replacing it with a record of the key's own subject forgets the aside.
        guard case .fetch(let token) = cache.lookup("key", now: t0 + .seconds(400)) else {
            Issue.record("expected a fetch")
            return
        }
        let own = record("key", ["A": false])
        _ = cache.fetchSucceeded("key", token: token, record: own, now: t0 + .seconds(400), using: &rng)
        #expect(cache.lookup("key", now: t0 + .seconds(401)) == .hit(own))
    }

    @Test func preferenceSetsAreReleasedWithTheirLastEntry() {
        var cache = Cache(configuration: .init(capacity: 2, jitter: 0))
        var rng = SeededRNG()
        fill(&cache, "a", record("a", ["A": true]), at: t0, rng: &rng)
        fill(&cache, "b", record("b", ["A": true]), at: t0, rng: &rng)
        #expect(cache.preferenceSetsInUse == 1)
        fill(&cache, "c", record("c", ["B": true]), at: t0, rng: &rng)  // evicts a
        #expect(cache.preferenceSetsInUse == 2)
        cache.invalidate("b")
        #expect(cache.preferenceSetsInUse == 1)
        fill(&cache, "d", nil, at: t0, rng: &rng)
        cache.invalidate("c")
        #expect(cache.preferenceSetsInUse == 0)
        #expect(cache.count == 1)
    }
}
