import SegmentWire
import Testing

@testable import ConsentCore

/// Keys are their bytes: the stores compare subject ids byte for byte, and so does the cache.
@Suite struct ConsentCacheKeyTests {
    @Test func canonicallyEquivalentIdsAreTwoSubjects() {
        var cache = ConsentCache<String>(configuration: .init(capacity: 10, jitter: 0))
        var rng = SeededRNG()
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed)  // equal as Swift strings
        guard case .fetch(let token) = cache.lookup(composed, now: .zero) else {
            Issue.record("expected a fetch")
            return
        }
        _ = cache.fetchSucceeded(composed, token: token, record: record(composed, ["Analytics": true]), now: .zero, using: &rng)
        guard case .fetch(let other) = cache.lookup(decomposed, now: .zero) else {
            Issue.record("the decomposed spelling must not hit the composed one's entry")
            return
        }
        // Nor join a fetch in flight for the other spelling.
        guard case .fetch = cache.lookup(composed, now: CacheInstant.zero.advanced(by: .seconds(400))) else {
            Issue.record("expected a fetch once the entry expired")
            return
        }
        #expect(cache.fetchesInFlight == 2)
        _ = cache.fetchSucceeded(decomposed, token: other, record: nil, now: .zero, using: &rng)
        // Each spelling has its own entry: the composed one's record, the decomposed one's "unknown".
        #expect(Array(composed.utf8).withUnsafeBytes { cache.freshEntry(bytes: $0, now: .zero) }?.isNegative == false)
        #expect(Array(decomposed.utf8).withUnsafeBytes { cache.freshEntry(bytes: $0, now: .zero) }?.isNegative == true)
        #expect(cache.count == 2)
    }

    @Test func theHashDependsOnEveryByteAndOnTheSeed() {
        let id = Array("0f8fad5b-d9cb-469f-a165-70867728950e".utf8)
        id.withUnsafeBytes { original in
            let hash = ConsentCacheHash.of(original, seed: 1)
            #expect(ConsentCacheHash.of(original, seed: 1) == hash)
            #expect(ConsentCacheHash.of(original, seed: 2) != hash)
            for position in id.indices {
                var changed = id
                changed[position] ^= 0x01
                #expect(changed.withUnsafeBytes { ConsentCacheHash.of($0, seed: 1) } != hash, "byte \(position)")
            }
            // A prefix is another key (the length is hashed too).
            #expect(ConsentCacheHash.of(UnsafeRawBufferPointer(rebasing: original[0..<35]), seed: 1) != hash)
        }
    }

    @Test func sequentialIdsSpreadOverTheTable() {
        // 100 000 ids that differ in a few digits fill 2^17 buckets about as random hashes would.
        var used = Set<UInt32>()
        for n in 0..<100_000 {
            let id = Array("user-\(n)".utf8)
            used.insert(id.withUnsafeBytes { ConsentCacheHash.of($0, seed: 42) } & ((1 << 17) - 1))
        }
        // Random placement leaves 2^17 * (1 - e^(-100000/2^17)) ≈ 70 500 buckets used.
        #expect(used.count > 68_000)
    }
}
