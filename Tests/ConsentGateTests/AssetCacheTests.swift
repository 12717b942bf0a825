import NIOCore
import Testing

@testable import ConsentGate

/// ``AssetCache``: fresh, stale, revalidated, single flight, stale-if-error and the byte bound, with
/// time passed in. No sockets.
@Suite struct AssetCacheTests {
    let t0 = ContinuousClock.now

    func entry(_ text: String, freshFor: Duration = .seconds(60), validator: String? = "\"v1\"") -> AssetCache.Entry {
        AssetCache.Entry(body: ByteBuffer(string: text), etag: "W/\"\(text)\"", validator: validator, freshFor: freshFor)
    }

    /// Fetches `key` into `cache` at `now` (asserting that a fetch is asked for).
    @discardableResult
    func fill(_ cache: inout AssetCache, _ key: String, _ stored: AssetCache.Entry, at now: ContinuousClock.Instant) throws -> AssetCache.Served {
        guard case .fetch(let flight, _, _) = cache.lookup(key, now: now) else {
            Issue.record("expected a fetch for \(key)")
            return .unavailable
        }
        return cache.finish(flight, .fetched(stored, store: true), now: now)
    }

    @Test func aMissFetchesThenHits() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(3600))
        guard case .fetch(let flight, let key, let validator) = cache.lookup("/a", now: t0) else { Issue.record("no fetch"); return }
        #expect(key == "/a" && validator == nil)
        #expect(cache.finish(flight, .fetched(entry("A"), store: true), now: t0) == .entry(entry("A"), .miss))
        #expect(cache.lookup("/a", now: t0 + .seconds(59)) == .hit(entry("A")))
        #expect(cache.count == 1 && cache.storedBytes == 1)
    }

    @Test func oneFetchPerKeyAtATime() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(3600))
        guard case .fetch(let flight, _, _) = cache.lookup("/a", now: t0) else { Issue.record("no fetch"); return }
        #expect(cache.lookup("/a", now: t0) == .join(flight))
        #expect(cache.lookup("/a", now: t0 + .seconds(1)) == .join(flight))
        // Another key has its own flight.
        guard case .fetch(let other, _, _) = cache.lookup("/b", now: t0) else { Issue.record("no fetch for /b"); return }
        #expect(other != flight)
        #expect(cache.finish(flight, .fetched(entry("A"), store: true), now: t0) == .entry(entry("A"), .miss))
        #expect(cache.lookup("/a", now: t0) == .hit(entry("A")))
    }

    @Test func aStaleEntryIsRevalidatedWithTheCDNsETag() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(3600))
        try fill(&cache, "/a", entry("A"), at: t0)
        let later = t0 + .seconds(60)
        guard case .fetch(let flight, _, let validator) = cache.lookup("/a", now: later) else { Issue.record("no revalidation"); return }
        #expect(validator == "\"v1\"")
        var refreshed = entry("A")
        refreshed.freshFor = .seconds(10)
        #expect(cache.finish(flight, .notModified(freshFor: .seconds(10)), now: later) == .entry(refreshed, .revalidated))
        #expect(cache.lookup("/a", now: later + .seconds(9)) == .hit(refreshed))
        guard case .fetch(let again, _, _) = cache.lookup("/a", now: later + .seconds(10)) else {
            Issue.record("expected a fetch once stale again")
            return
        }
        // A 304 that does not say how long keeps the copy's own lifetime.
        #expect(cache.finish(again, .notModified(freshFor: nil), now: later + .seconds(10)) == .entry(refreshed, .revalidated))
        #expect(cache.lookup("/a", now: later + .seconds(19)) == .hit(refreshed))
    }

    @Test func aFailedFetchServesTheStaleCopyWithinStaleIfError() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(100))
        try fill(&cache, "/a", entry("A"), at: t0)
        let stale = t0 + .seconds(60 + 99)
        guard case .fetch(let flight, _, _) = cache.lookup("/a", now: stale) else { Issue.record("no fetch"); return }
        #expect(cache.finish(flight, .failed, now: stale) == .entry(entry("A"), .stale))
        // Still stale: the next request tries the CDN again.
        guard case .fetch(let again, _, _) = cache.lookup("/a", now: stale) else { Issue.record("no second fetch"); return }
        // Past the window while the fetch was out: nothing to serve, and the copy is gone.
        #expect(cache.finish(again, .failed, now: t0 + .seconds(160)) == .unavailable)
        #expect(cache.count == 0 && cache.storedBytes == 0)
    }

    @Test func aCopyPastStaleIfErrorIsDroppedAtLookup() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(100))
        try fill(&cache, "/a", entry("A"), at: t0)
        guard case .fetch(let flight, _, let validator) = cache.lookup("/a", now: t0 + .seconds(160)) else { Issue.record("no fetch"); return }
        #expect(validator == nil)
        #expect(cache.count == 0)
        #expect(cache.finish(flight, .failed, now: t0 + .seconds(160)) == .unavailable)
    }

    @Test func aFailureWithNothingCachedIsUnavailable() {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(3600))
        guard case .fetch(let flight, _, _) = cache.lookup("/a", now: t0) else { Issue.record("no fetch"); return }
        #expect(cache.finish(flight, .failed, now: t0) == .unavailable)
        // A 304 for a copy that is no longer there (it cannot happen without a validator) serves nothing either.
        guard case .fetch(let second, _, _) = cache.lookup("/a", now: t0) else { Issue.record("no fetch"); return }
        #expect(cache.finish(second, .notModified(freshFor: .seconds(1)), now: t0) == .unavailable)
    }

    @Test func anAnswerNotToBeKeptIsServedOnceAndReplacesNothing() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(3600))
        try fill(&cache, "/a", entry("A"), at: t0)
        guard case .fetch(let flight, _, _) = cache.lookup("/a", now: t0 + .seconds(61)) else { Issue.record("no fetch"); return }
        var notFound = entry("gone")
        notFound.status = 404
        #expect(cache.finish(flight, .fetched(notFound, store: false), now: t0 + .seconds(61)) == .entry(notFound, .miss))
        #expect(cache.count == 0)
        guard case .fetch = cache.lookup("/a", now: t0 + .seconds(61)) else { Issue.record("expected a fetch"); return }
    }

    @Test func anUnknownOrRepeatedFinishChangesNothing() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(3600))
        guard case .fetch(let flight, _, _) = cache.lookup("/a", now: t0) else { Issue.record("no fetch"); return }
        #expect(cache.finish(flight, .fetched(entry("A"), store: true), now: t0) == .entry(entry("A"), .miss))
        #expect(cache.finish(flight, .fetched(entry("B"), store: true), now: t0) == .unavailable)
        #expect(cache.finish(AssetCache.FlightID(rawValue: 999), .failed, now: t0) == .unavailable)
        #expect(cache.lookup("/a", now: t0) == .hit(entry("A")))
    }

    @Test func theByteBoundEvictsTheLeastRecentlyUsed() throws {
        var cache = AssetCache(maxBytes: 10, staleIfError: .seconds(3600))
        try fill(&cache, "/a", entry("aaaa"), at: t0)
        try fill(&cache, "/b", entry("bbbb"), at: t0)
        #expect(cache.lookup("/a", now: t0) == .hit(entry("aaaa")))  // /b is now the least recently used
        try fill(&cache, "/c", entry("cccc"), at: t0)
        #expect(cache.storedBytes == 8 && cache.evictions == 1)
        #expect(cache.lookup("/a", now: t0) == .hit(entry("aaaa")))
        #expect(cache.lookup("/c", now: t0) == .hit(entry("cccc")))
        guard case .fetch = cache.lookup("/b", now: t0) else { Issue.record("/b should have been evicted"); return }
    }

    @Test func aBodyLargerThanTheBoundIsServedButNotKept() throws {
        var cache = AssetCache(maxBytes: 4, staleIfError: .seconds(3600))
        try fill(&cache, "/a", entry("aaaa"), at: t0)
        let served = try fill(&cache, "/big", entry("0123456789"), at: t0)
        #expect(served == .entry(entry("0123456789"), .miss))
        #expect(cache.storedBytes == 4 && cache.evictions == 0)
        #expect(cache.lookup("/a", now: t0) == .hit(entry("aaaa")))
    }

    @Test func aZeroLifetimeIsKeptForRevalidationAndStaleIfError() throws {
        var cache = AssetCache(maxBytes: 1 << 20, staleIfError: .seconds(3600))
        try fill(&cache, "/a", entry("A", freshFor: .zero), at: t0)
        guard case .fetch(let flight, _, let validator) = cache.lookup("/a", now: t0) else { Issue.record("no fetch"); return }
        #expect(validator == "\"v1\"")
        #expect(cache.finish(flight, .failed, now: t0) == .entry(entry("A", freshFor: .zero), .stale))
    }
}
