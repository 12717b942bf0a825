internal import SegmentWire

/// The consent cache's settings (`cache:` in the configuration).
public struct ConsentCacheConfiguration: Sendable, Hashable {
    /// `cache.capacity`: the most entries (positive and negative) kept; the least recently used goes first.
    public var capacity: Int
    /// `cache.ttl_seconds`: how long a subject's record stays fresh (before jitter).
    public var ttl: Duration
    /// `cache.negative_ttl_seconds`: how long "the store does not know this subject" stays fresh.
    public var negativeTTL: Duration
    /// `cache.max_stale_grant_seconds`: how long after expiry a stale record may still vouch for grants
    /// while the store fails (a stale deny always may). Applied by ``VerdictEngine``.
    public var maxStaleGrant: Duration
    /// The relative spread of each entry's lifetime: a TTL `t` becomes uniform in `t × [1 − j, 1 + j]`,
    /// so entries filled together do not expire together. Clamped to `0...1`.
    public var jitter: Double

    /// The settings; the defaults are those of the configuration file.
    public init(
        capacity: Int = 100_000,
        ttl: Duration = .seconds(300),
        negativeTTL: Duration = .seconds(60),
        maxStaleGrant: Duration = .seconds(30),
        jitter: Double = 0.1
    ) {
        self.capacity = capacity
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.maxStaleGrant = maxStaleGrant
        self.jitter = jitter
    }
}

/// The consent cache's counters, for metrics.
public struct ConsentCacheStatistics: Sendable, Hashable {
    /// Lookups answered by a fresh record.
    public var hits = 0
    /// Lookups that started a store fetch (absent or expired entry).
    public var misses = 0
    /// Lookups answered by a fresh negative entry (the store does not know the subject).
    public var negativeHits = 0
    /// Failed fetches answered with a stale record instead.
    public var staleServed = 0
    /// Entries removed to make room for a new one.
    public var evictions = 0
    /// Lookups that joined a fetch already in flight instead of starting one (single-flight).
    public var coalesced = 0
    /// Entries held now.
    public var count = 0

    /// All zero.
    public init() {}
}

/// The consent cache as a value-type state machine: LRU with a capacity, TTLs with jitter,
/// negative entries, single-flight fetches and stale records for store outages.
///
/// It performs no I/O, reads no clock and takes no lock: every operation takes `now` and returns
/// what the caller must do (``ConsentResolver`` drives it from behind a mutex). The protocol:
///
/// 1. ``lookup(_:now:)`` answers from a fresh entry, or tells the caller to ``LookupAction/fetch(_:)``
///    from the store (registering a fetch in flight), or to ``LookupAction/join(_:)`` the fetch already
///    in flight for that key.
/// 2. The fetcher reports back with ``fetchSucceeded(_:token:record:now:using:)`` or
///    ``fetchFailed(_:token:now:)``; both return the ``LookupOutcome`` for the fetcher and every joiner.
///    A failure is never cached: it yields the expired record (``LookupOutcome/stale(_:expiredFor:)``)
///    if one is left, else ``LookupOutcome/unavailable``.
/// 3. ``invalidate(_:)``, ``markAllStale(now:)`` and ``removeAll()`` also detach the fetches in flight:
///    their results still reach their waiters but are not cached, since they may predate the change.
///
/// Storage is a dictionary from key to slot index plus one array of slots linked into the LRU list
/// by `Int32` indices, with a free list: no object per entry. Records with equal preferences share
/// one preferences array.
public struct ConsentCache<Key: Hashable & Sendable>: Sendable {
    public typealias Configuration = ConsentCacheConfiguration

    /// Names one fetch in flight; the driver keys its waiters by it.
    public struct FetchToken: Sendable, Hashable {
        /// Unique within one cache.
        public let rawValue: UInt64
    }

    /// What ``lookup(_:now:)`` tells the caller to do.
    public enum LookupAction: Sendable, Hashable {
        /// A fresh record: use it.
        case hit(ConsentRecord)
        /// A fresh negative entry: the store does not know the subject.
        case negativeHit
        /// Absent or expired: ask the store, then report with this token.
        case fetch(FetchToken)
        /// A fetch for this key is in flight: wait for its outcome.
        case join(FetchToken)
    }

    private struct Slot: Sendable {
        /// `nil` while the slot is on the free list.
        var key: Key?
        /// `nil` for a negative entry (the store does not know the subject).
        var record: ConsentRecord?
        /// The entry is fresh while `now < expiry` (nanoseconds, see ``CacheInstant``).
        var expiry: Int64
        /// Towards the most recently used entry; on the free list, unused.
        var previous: Int32
        /// Towards the least recently used entry; on the free list, the next free slot.
        var next: Int32
    }

    private static var none: Int32 { -1 }
    /// Distinct preference sets remembered for sharing; beyond it the table starts over.
    private static var internLimit: Int { 1_024 }

    private var index: [Key: Int32] = [:]
    private var slots: [Slot] = []
    /// The most recently used entry.
    private var head: Int32 = none
    /// The least recently used entry: evicted first.
    private var tail: Int32 = none
    private var freeList: Int32 = none
    private var inFlight: [Key: FetchToken] = [:]
    private var nextToken: UInt64 = 0
    private var interned: Set<[CategoryPreference]> = []

    /// The settings the cache was made with.
    public let configuration: Configuration
    /// See ``ConsentCacheStatistics/hits``.
    public private(set) var hits = 0
    /// See ``ConsentCacheStatistics/misses``.
    public private(set) var misses = 0
    /// See ``ConsentCacheStatistics/negativeHits``.
    public private(set) var negativeHits = 0
    /// See ``ConsentCacheStatistics/staleServed``.
    public private(set) var staleServed = 0
    /// See ``ConsentCacheStatistics/evictions``.
    public private(set) var evictions = 0
    /// See ``ConsentCacheStatistics/coalesced``.
    public private(set) var coalesced = 0

    /// An empty cache.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The most entries the cache holds (the configured capacity, clamped to `0...Int32.max - 1`).
    public var capacity: Int { min(max(configuration.capacity, 0), Int(Int32.max) - 1) }

    /// Entries held now, fresh or expired, positive or negative.
    public var count: Int { index.count }

    /// Fetches in flight (not detached).
    public var fetchesInFlight: Int { inFlight.count }

    /// A snapshot of the counters.
    public var statistics: ConsentCacheStatistics {
        var statistics = ConsentCacheStatistics()
        statistics.hits = hits
        statistics.misses = misses
        statistics.negativeHits = negativeHits
        statistics.staleServed = staleServed
        statistics.evictions = evictions
        statistics.coalesced = coalesced
        statistics.count = count
        return statistics
    }

    // MARK: Operations

    /// Looks a key up. A fresh entry answers and becomes the most recently used; otherwise the caller
    /// fetches (a fetch is registered in flight) or joins the fetch already in flight.
    public mutating func lookup(_ key: Key, now: CacheInstant) -> LookupAction {
        if let slot = index[key], now.nanoseconds < slots[Int(slot)].expiry {
            moveToFront(slot)
            if let record = slots[Int(slot)].record {
                hits += 1
                return .hit(record)
            }
            negativeHits += 1
            return .negativeHit
        }
        if let token = inFlight[key] {
            coalesced += 1
            return .join(token)
        }
        misses += 1
        let token = FetchToken(rawValue: nextToken)
        nextToken &+= 1
        inFlight[key] = token
        return .fetch(token)
    }

    /// Reports a fetch's answer: the record, or `nil` when the store does not know the subject.
    ///
    /// The answer is cached (positive entries with ``Configuration/ttl``, negative ones with
    /// ``Configuration/negativeTTL``, each jittered with `rng`) unless the fetch was detached.
    /// Returns the outcome for the fetcher and its joiners.
    public mutating func fetchSucceeded(
        _ key: Key,
        token: FetchToken,
        record: ConsentRecord?,
        now: CacheInstant,
        using rng: inout some RandomNumberGenerator
    ) -> LookupOutcome {
        if inFlight[key] == token {
            inFlight[key] = nil
            insert(key, record: record, now: now, using: &rng)
        }
        return record.map(LookupOutcome.fresh) ?? .unknown
    }

    /// Reports a failed fetch. Nothing is cached; returns the outcome for the fetcher and its joiners:
    /// the expired record as ``LookupOutcome/stale(_:expiredFor:)`` if there is one, else
    /// ``LookupOutcome/unavailable`` (an expired negative entry proves nothing). Should another fetch
    /// have refreshed the entry meanwhile, its fresh answer.
    public mutating func fetchFailed(_ key: Key, token: FetchToken, now: CacheInstant) -> LookupOutcome {
        if inFlight[key] == token {
            inFlight[key] = nil
        }
        guard let slot = index[key] else { return .unavailable }
        let entry = slots[Int(slot)]
        if now.nanoseconds < entry.expiry {
            return entry.record.map(LookupOutcome.fresh) ?? .unknown
        }
        guard let record = entry.record else { return .unavailable }
        staleServed += 1
        return .stale(record, expiredFor: CacheInstant(nanoseconds: entry.expiry).duration(to: now))
    }

    /// Forgets a key (its consent changed) and detaches its fetch in flight.
    public mutating func invalidate(_ key: Key) {
        inFlight[key] = nil
        guard let slot = index.removeValue(forKey: key) else { return }
        unlink(slot)
        release(slot)
    }

    /// Forgets every entry and detaches every fetch in flight. Counters are kept.
    public mutating func removeAll() {
        index.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        inFlight.removeAll()
        interned.removeAll()
        head = Self.none
        tail = Self.none
        freeList = Self.none
    }

    /// Expires every entry now (e.g. when invalidations may have been missed) but keeps them for the
    /// stale rules, and detaches every fetch in flight.
    public mutating func markAllStale(now: CacheInstant) {
        var slot = head
        while slot != Self.none {
            slots[Int(slot)].expiry = min(slots[Int(slot)].expiry, now.nanoseconds)
            slot = slots[Int(slot)].next
        }
        inFlight.removeAll()
    }

    // MARK: Inspection (tests, admin)

    /// The bytes one entry takes in the slot array (not counting the index, the key's and the
    /// record's heap storage).
    public static var bytesPerSlot: Int { MemoryLayout<Slot>.stride }

    /// When a key's entry expires, if it has one.
    public func expiry(of key: Key) -> CacheInstant? {
        index[key].map { CacheInstant(nanoseconds: slots[Int($0)].expiry) }
    }

    /// The keys from the most to the least recently used.
    public func keysByRecency() -> [Key] {
        var keys: [Key] = []
        keys.reserveCapacity(count)
        var slot = head
        while slot != Self.none {
            keys.append(slots[Int(slot)].key!)
            slot = slots[Int(slot)].next
        }
        return keys
    }

    // MARK: Storage

    private mutating func insert(_ key: Key, record: ConsentRecord?, now: CacheInstant, using rng: inout some RandomNumberGenerator) {
        let ttl = record == nil ? configuration.negativeTTL : configuration.ttl
        let expiry = now.advanced(by: jittered(ttl, using: &rng)).nanoseconds
        var record = record
        if let positive = record { record = shared(positive) }
        if let slot = index[key] {
            slots[Int(slot)].record = record
            slots[Int(slot)].expiry = expiry
            moveToFront(slot)
            return
        }
        guard capacity > 0 else { return }
        if index.count >= capacity {
            let victim = tail
            index[slots[Int(victim)].key!] = nil
            unlink(victim)
            release(victim)
            evictions += 1
        }
        let entry = Slot(key: key, record: record, expiry: expiry, previous: Self.none, next: Self.none)
        let slot: Int32
        if freeList != Self.none {
            slot = freeList
            freeList = slots[Int(slot)].next
            slots[Int(slot)] = entry
        } else {
            slot = Int32(slots.count)
            slots.append(entry)
        }
        index[key] = slot
        linkFront(slot)
    }

    /// A TTL scaled by a factor uniform in `[1 − jitter, 1 + jitter]`.
    private func jittered(_ ttl: Duration, using rng: inout some RandomNumberGenerator) -> Duration {
        let jitter = min(max(configuration.jitter, 0), 1)
        guard jitter > 0 else { return ttl }
        let factor = 1 + Double.random(in: -jitter...jitter, using: &rng)
        return .nanoseconds(Int64((Double(CacheInstant.nanoseconds(of: ttl)) * factor).rounded()))
    }

    /// The record with its preferences array shared with earlier records that have the same preferences.
    private mutating func shared(_ record: ConsentRecord) -> ConsentRecord {
        var record = record
        if let existing = interned.firstIndex(of: record.preferences) {
            record.sharePreferences(interned[existing])
        } else {
            if interned.count >= Self.internLimit { interned.removeAll() }
            interned.insert(record.preferences)
        }
        return record
    }

    private mutating func release(_ slot: Int32) {
        slots[Int(slot)] = Slot(key: nil, record: nil, expiry: 0, previous: Self.none, next: freeList)
        freeList = slot
    }

    private mutating func linkFront(_ slot: Int32) {
        slots[Int(slot)].previous = Self.none
        slots[Int(slot)].next = head
        if head != Self.none { slots[Int(head)].previous = slot }
        head = slot
        if tail == Self.none { tail = slot }
    }

    private mutating func unlink(_ slot: Int32) {
        let previous = slots[Int(slot)].previous
        let next = slots[Int(slot)].next
        if previous != Self.none { slots[Int(previous)].next = next } else { head = next }
        if next != Self.none { slots[Int(next)].previous = previous } else { tail = previous }
        slots[Int(slot)].previous = Self.none
        slots[Int(slot)].next = Self.none
    }

    private mutating func moveToFront(_ slot: Int32) {
        guard slot != head else { return }
        unlink(slot)
        linkFront(slot)
    }
}
