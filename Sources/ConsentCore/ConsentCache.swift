import CPrefetch
import FoundationEssentials
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
    /// How loosely the LRU order is kept, as a fraction of ``capacity``: an entry used again within
    /// `lruSlack × capacity` moves to the front of other entries is not moved again (it is among the
    /// most recently used already, and each move is two cache misses on its neighbours). It can then
    /// be evicted that many insertions early. 0 keeps the exact order. Clamped to `0...1`.
    public var lruSlack: Double

    /// The settings; the defaults are those of the configuration file.
    public init(
        capacity: Int = 100_000,
        ttl: Duration = .seconds(300),
        negativeTTL: Duration = .seconds(60),
        maxStaleGrant: Duration = .seconds(30),
        jitter: Double = 0.1,
        lruSlack: Double = 0.125
    ) {
        self.capacity = capacity
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.maxStaleGrant = maxStaleGrant
        self.jitter = jitter
        self.lruSlack = lruSlack
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

/// The consent cache as a value-type state machine: LRU with a capacity (its order kept loosely among
/// the most recently used, see ``ConsentCacheConfiguration/lruSlack``), TTLs with jitter,
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
/// Memory is what a million cached subjects are about, so an entry is one 80-byte slot and an 8-byte
/// index bucket, its key's bytes inside the slot (a key longer than 39 bytes is kept aside, in a
/// dictionary by slot: each costs its `String` and a dictionary entry on top, over 100 B):
/// - one array of slots, linked into the LRU list by `Int32` indices, with a free list; reserved up
///   front (address space only: pages become resident as slots fill), so it never grows by copying;
/// - an open-addressing hash table (linear probing, backward-shift deletion) of hashes and slot
///   indices, instead of a `Dictionary` (which would store every key a second time);
/// - a slot keeps the record's fields but not the record: its subject is the key (the rare record
///   whose subject differs is remembered aside), and its preferences are an index into a table of the
///   distinct preference sets in use, reference-counted.
public struct ConsentCache<Key: ConsentCacheKey>: Sendable {
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
        /// ``InlineKey/free`` while the slot is on the free list; ``InlineKey/long`` for a key in ``longKeys``.
        var key: InlineKey
        /// The entry is fresh while `now < expiry` (nanoseconds, see ``CacheInstant``).
        var expiry: Int64
        /// The record's ``ConsentRecord/version``.
        var version: Int64
        /// The record's ``ConsentRecord/updatedAt``.
        var updatedAt: Date
        /// ``ConsentCache/moves`` when the entry last went to the front of the LRU list.
        var movedAt: UInt32
        /// The index of the record's preference set; ``ConsentCache/negative`` for a negative entry.
        var preferences: UInt32
        /// Towards the most recently used entry; on the free list, unused.
        var previous: Int32
        /// Towards the least recently used entry; on the free list, the next free slot.
        var next: Int32
    }

    private static var none: Int32 { -1 }
    private static var negative: UInt32 { .max }
    /// Slots reserved up front at most (beyond, the array grows as usual).
    private static var maxReservedSlots: Int { 1 << 22 }

    /// Per bucket, 0 when empty, else the entry's hash (high 32 bits) and its slot index + 1: a probe
    /// compares hashes in the table and visits only the slot whose hash matches (a slot is usually
    /// a cache miss of its own). The count is a power of two (or 0).
    private var table: [UInt64] = []
    private var slots: [Slot] = []
    private var live = 0
    /// The most recently used entry.
    private var head: Int32 = none
    /// The least recently used entry: evicted first.
    private var tail: Int32 = none
    /// Moves to the front of the LRU list so far (wrapping).
    private var moves: UInt32 = 0
    private var freeList: Int32 = none
    /// The keys longer than ``InlineKey/capacity``, by slot.
    private var longKeys: [Int32: Key] = [:]
    private var inFlight: [ByteIdentity<Key>: FetchToken] = [:]
    private var nextToken: UInt64 = 0
    /// Subjects of records that differ from their key (never, when the driver keys records by subject).
    private var subjects: [Int32: String] = [:]
    /// The distinct preference sets of the entries, with the number of entries using each.
    private var preferenceSets: [[CategoryPreference]] = []
    private var preferenceUses: [UInt32] = []
    private var preferenceIndex: [[CategoryPreference]: UInt32] = [:]
    private var freePreferenceSets: [UInt32] = []
    /// Per preference set, its granted categories as a mask over ``categories`` (`nil`: no mask).
    private var preferenceMasks: [UInt64?] = []
    /// The bits of the categories the cached records know.
    public private(set) var categories = CategoryIDs()

    /// The settings the cache was made with.
    public let configuration: Configuration
    /// The key of ``ConsentCacheHash``, drawn per cache.
    private let seed = UInt64.random(in: .min ... .max)
    /// Moves within which a used entry stays where it is (``Configuration/lruSlack``).
    private let slack: UInt32
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
        let capacity = min(max(configuration.capacity, 0), Int(Int32.max) - 1)
        self.slack = UInt32(Double(capacity) * min(max(configuration.lruSlack, 0), 1))
    }

    /// The most entries the cache holds (the configured capacity, clamped to `0...Int32.max - 1`).
    public var capacity: Int { min(max(configuration.capacity, 0), Int(Int32.max) - 1) }

    /// Entries held now, fresh or expired, positive or negative.
    public var count: Int { live }

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
        let hash = self.hash(of: key)
        if let slot = find(key, hash: hash), now.nanoseconds < slots[Int(slot)].expiry {
            moveToFront(slot)
            if let record = record(at: slot) {
                hits += 1
                return .hit(record)
            }
            negativeHits += 1
            return .negativeHit
        }
        if let token = inFlight[ByteIdentity(key)] {
            coalesced += 1
            return .join(token)
        }
        misses += 1
        let token = FetchToken(rawValue: nextToken)
        nextToken &+= 1
        inFlight[ByteIdentity(key)] = token
        return .fetch(token)
    }

    /// The fresh entry of a key, if it has one: its slot, for ``answer(_:)``. Changes nothing
    /// (a key without a fresh entry is neither counted as a miss nor registered for a fetch); `mutating`
    /// only so that a caller holding the cache inside a lock's state does not copy it to call this.
    public mutating func freshEntry(_ key: Key, now: CacheInstant) -> FreshEntry? {
        key.withKeyBytes { freshEntry(bytes: $0, now: now) }
    }

    /// ``freshEntry(_:now:)`` for the key with these bytes, read in place (no key is made).
    public mutating func freshEntry(bytes: UnsafeRawBufferPointer, now: CacheInstant) -> FreshEntry? {
        freshEntry(bytes: bytes, hash: hash(bytes: bytes), now: now)
    }

    /// ``freshEntry(bytes:now:)`` with the key's ``hash(bytes:)`` already at hand.
    public mutating func freshEntry(bytes: UnsafeRawBufferPointer, hash: UInt32, now: CacheInstant) -> FreshEntry? {
        guard let bucket = bucket(hash: hash, bytes: bytes) else { return nil }
        let slot = Self.slot(of: table[bucket])
        guard now.nanoseconds < slots[slot].expiry else { return nil }
        return FreshEntry(slot: Int32(slot), isNegative: slots[slot].preferences == Self.negative)
    }

    // MARK: Lookups of a batch

    /// The hash a key with these bytes is filed under, for ``prefetchBucket(hash:)``,
    /// ``prefetchSlot(hash:)`` and ``freshEntry(bytes:hash:now:)``.
    public func hash(bytes: UnsafeRawBufferPointer) -> UInt32 {
        ConsentCacheHash.of(bytes, seed: seed)
    }

    /// Starts loading a lookup's first read, the hash's home bucket, into the processor's cache without
    /// waiting for it. A lookup in a large cache waits for memory twice (bucket, then slot); prefetching
    /// the buckets of a whole batch, then their slots (``prefetchSlot(hash:)``), lets those waits overlap
    /// instead of following one another. Changes nothing.
    public func prefetchBucket(hash: UInt32) {
        guard !table.isEmpty else { return }
        table.withUnsafeBufferPointer { cg_prefetch($0.baseAddress! + (Int(hash) & ($0.count - 1))) }
    }

    /// Starts loading the slot the hash's home bucket names, if that bucket holds the hash (best after
    /// ``prefetchBucket(hash:)`` of the whole batch). Changes nothing.
    public func prefetchSlot(hash: UInt32) {
        guard !table.isEmpty else { return }
        let entry = table[Int(hash) & (table.count - 1)]
        guard entry != 0, Self.hash(of: entry) == hash else { return }
        slots.withUnsafeBytes { slots in
            let start = slots.baseAddress! + Self.slot(of: entry) * MemoryLayout<Slot>.stride
            cg_prefetch(start)
            cg_prefetch(start + (MemoryLayout<Slot>.size - 1))  // a slot can straddle two cache lines
        }
    }

    /// Answers from an entry ``freshEntry(_:now:)`` found, with no change to the cache in between:
    /// exactly what ``lookup(_:now:)`` would have answered (a hit or a negative hit, counted, and the
    /// entry becomes the most recently used).
    public mutating func answer(_ entry: FreshEntry) -> LookupAction {
        touch(entry)
        return record(at: entry.slot).map(LookupAction.hit) ?? .negativeHit
    }

    /// What ``answer(_:)`` does to the cache (counts the hit, makes the entry the most recently
    /// used), without building the record: for a caller that needs only ``grantMask(of:)`` and
    /// ``version(of:)``.
    public mutating func touch(_ entry: FreshEntry) {
        moveToFront(entry.slot)
        if entry.isNegative { negativeHits += 1 } else { hits += 1 }
    }

    /// The categories an entry's record grants, as a mask over ``categories``; `nil` for a negative
    /// entry and for a record that grants a category without a bit.
    public func grantMask(of entry: FreshEntry) -> UInt64? {
        let preferences = slots[Int(entry.slot)].preferences
        guard preferences != Self.negative else { return nil }
        return preferenceMasks[Int(preferences)]
    }

    /// The ``ConsentRecord/version`` of an entry's record (0 for a negative entry).
    public func version(of entry: FreshEntry) -> Int64 {
        slots[Int(entry.slot)].version
    }

    /// A fresh entry found by ``freshEntry(_:now:)``; valid until the cache next changes.
    public struct FreshEntry: Sendable {
        fileprivate let slot: Int32
        /// The store does not know the subject.
        public let isNegative: Bool
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
        if inFlight[ByteIdentity(key)] == token {
            inFlight[ByteIdentity(key)] = nil
            insert(key, record: record, now: now, using: &rng)
        }
        return record.map(LookupOutcome.fresh) ?? .unknown
    }

    /// Reports a failed fetch. Nothing is cached; returns the outcome for the fetcher and its joiners:
    /// the expired record as ``LookupOutcome/stale(_:expiredFor:)`` if there is one, else
    /// ``LookupOutcome/unavailable`` (an expired negative entry proves nothing). Should another fetch
    /// have refreshed the entry meanwhile, its fresh answer.
    public mutating func fetchFailed(_ key: Key, token: FetchToken, now: CacheInstant) -> LookupOutcome {
        if inFlight[ByteIdentity(key)] == token {
            inFlight[ByteIdentity(key)] = nil
        }
        guard let slot = find(key, hash: hash(of: key)) else { return .unavailable }
        let expiry = slots[Int(slot)].expiry
        let record = record(at: slot)
        if now.nanoseconds < expiry {
            return record.map(LookupOutcome.fresh) ?? .unknown
        }
        guard let record else { return .unavailable }
        staleServed += 1
        return .stale(record, expiredFor: CacheInstant(nanoseconds: expiry).duration(to: now))
    }

    /// Forgets a key (its consent changed) and detaches its fetch in flight.
    public mutating func invalidate(_ key: Key) {
        inFlight[ByteIdentity(key)] = nil
        guard let slot = removeFromTable(key, hash: hash(of: key)) else { return }
        unlink(slot)
        release(slot)
    }

    /// Forgets every entry and detaches every fetch in flight. Counters are kept.
    public mutating func removeAll() {
        for index in table.indices { table[index] = 0 }
        slots.removeAll(keepingCapacity: true)
        longKeys.removeAll()
        live = 0
        inFlight.removeAll()
        subjects.removeAll()
        preferenceSets.removeAll()
        preferenceUses.removeAll()
        preferenceIndex.removeAll()
        freePreferenceSets.removeAll()
        preferenceMasks.removeAll()
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

    /// The bytes one entry takes in the slot array, its key's included when at most
    /// ``InlineKey/capacity`` bytes (not counting its index bucket).
    public static var bytesPerSlot: Int { MemoryLayout<Slot>.stride }

    /// The bytes one entry takes in the index (a bucket, at the table's load factor of at most 3/4,
    /// and at least 3/8 once it has grown).
    public static var bytesPerBucket: Int { MemoryLayout<UInt64>.stride }

    /// Distinct preference sets held for the entries (tests).
    var preferenceSetsInUse: Int { preferenceIndex.count }

    /// When a key's entry expires, if it has one.
    public func expiry(of key: Key) -> CacheInstant? {
        find(key, hash: hash(of: key)).map { CacheInstant(nanoseconds: slots[Int($0)].expiry) }
    }

    /// The keys from the most to the least recently used.
    public func keysByRecency() -> [Key] {
        var keys: [Key] = []
        keys.reserveCapacity(count)
        var slot = head
        while slot != Self.none {
            keys.append(key(of: slot))
            slot = slots[Int(slot)].next
        }
        return keys
    }

    // MARK: Records

    /// The record of a slot; `nil` for a negative entry.
    @inline(__always)
    private func record(at slot: Int32) -> ConsentRecord? {
        let preferences = slots[Int(slot)].preferences
        guard preferences != Self.negative else { return nil }
        let subject: String
        if !subjects.isEmpty, let override = subjects[slot] {
            subject = override
        } else {
            subject = withKeyBytes(of: slot) { String(decoding: $0, as: UTF8.self) }
        }
        return ConsentRecord(
            subject: subject, normalizedPreferences: preferenceSets[Int(preferences)], version: slots[Int(slot)].version,
            updatedAt: slots[Int(slot)].updatedAt)
    }

    /// Stores a record's fields (or a negative entry) into a slot whose old contents were released.
    private mutating func store(_ record: ConsentRecord?, key: Key, into slot: Int32) {
        guard let record else {
            slots[Int(slot)].preferences = Self.negative
            slots[Int(slot)].version = 0
            slots[Int(slot)].updatedAt = Date(timeIntervalSince1970: 0)
            return
        }
        slots[Int(slot)].preferences = retainPreferences(record.preferences)
        slots[Int(slot)].version = record.version
        slots[Int(slot)].updatedAt = record.updatedAt
        let keyIsSubject = key.withKeyBytes { key in record.subject.withKeyBytes { ConsentCacheHash.equal(key, $0) } }
        if !keyIsSubject { subjects[slot] = record.subject }
    }

    /// Lets go of what a slot's record refers to (its preference set, a subject kept aside).
    private mutating func releaseRecord(of slot: Int32) {
        let preferences = slots[Int(slot)].preferences
        if preferences != Self.negative {
            releasePreferences(preferences)
            slots[Int(slot)].preferences = Self.negative
        }
        if !subjects.isEmpty { subjects[slot] = nil }
    }

    private mutating func retainPreferences(_ preferences: [CategoryPreference]) -> UInt32 {
        if let index = preferenceIndex[preferences] {
            preferenceUses[Int(index)] += 1
            return index
        }
        let index: UInt32
        if let free = freePreferenceSets.popLast() {
            index = free
            preferenceSets[Int(index)] = preferences
            preferenceUses[Int(index)] = 1
            preferenceMasks[Int(index)] = categories.internGrantMask(preferences)
        } else {
            index = UInt32(preferenceSets.count)
            preferenceSets.append(preferences)
            preferenceUses.append(1)
            preferenceMasks.append(categories.internGrantMask(preferences))
        }
        preferenceIndex[preferences] = index
        return index
    }

    private mutating func releasePreferences(_ index: UInt32) {
        preferenceUses[Int(index)] -= 1
        guard preferenceUses[Int(index)] == 0 else { return }
        preferenceIndex[preferenceSets[Int(index)]] = nil
        preferenceSets[Int(index)] = []
        freePreferenceSets.append(index)
    }

    // MARK: Storage

    private mutating func insert(_ key: Key, record: ConsentRecord?, now: CacheInstant, using rng: inout some RandomNumberGenerator) {
        let ttl = record == nil ? configuration.negativeTTL : configuration.ttl
        let expiry = now.advanced(by: jittered(ttl, using: &rng)).nanoseconds
        let hash = self.hash(of: key)
        if let slot = find(key, hash: hash) {
            releaseRecord(of: slot)
            store(record, key: key, into: slot)
            slots[Int(slot)].expiry = expiry
            moveToFront(slot, always: true)
            return
        }
        guard capacity > 0 else { return }
        if live >= capacity {
            let victim = tail
            removeFromTable(bucket(of: victim))
            unlink(victim)
            release(victim)
            evictions += 1
        }
        let inline = key.withKeyBytes { InlineKey($0) }
        let entry = Slot(
            key: inline ?? .long, expiry: expiry, version: 0, updatedAt: Date(timeIntervalSince1970: 0), movedAt: 0,
            preferences: Self.negative, previous: Self.none, next: Self.none)
        let slot: Int32
        if freeList != Self.none {
            slot = freeList
            freeList = slots[Int(slot)].next
            slots[Int(slot)] = entry
        } else {
            if slots.capacity == 0 { slots.reserveCapacity(min(capacity, Self.maxReservedSlots)) }
            slot = Int32(slots.count)
            slots.append(entry)
        }
        if inline == nil { longKeys[slot] = key }
        store(record, key: key, into: slot)
        addToTable(slot, hash: hash)
        live += 1
        linkFront(slot)
    }

    /// A TTL scaled by a factor uniform in `[1 − jitter, 1 + jitter]`.
    private func jittered(_ ttl: Duration, using rng: inout some RandomNumberGenerator) -> Duration {
        let jitter = min(max(configuration.jitter, 0), 1)
        guard jitter > 0 else { return ttl }
        let factor = 1 + Double.random(in: -jitter...jitter, using: &rng)
        return .nanoseconds(Int64((Double(CacheInstant.nanoseconds(of: ttl)) * factor).rounded()))
    }

    private mutating func release(_ slot: Int32) {
        releaseRecord(of: slot)
        if slots[Int(slot)].key.isLong { longKeys[slot] = nil }
        slots[Int(slot)] = Slot(
            key: .free, expiry: 0, version: 0, updatedAt: Date(timeIntervalSince1970: 0), movedAt: 0, preferences: Self.negative,
            previous: Self.none, next: freeList)
        freeList = slot
        live -= 1
    }

    private mutating func linkFront(_ slot: Int32) {
        moves &+= 1
        slots[Int(slot)].movedAt = moves
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

    /// Makes an entry the most recently used; unless `always`, not when it went to the front within
    /// the last ``slack`` moves (fewer than that many entries are ahead of it).
    private mutating func moveToFront(_ slot: Int32, always: Bool = false) {
        guard slot != head else { return }
        guard always || moves &- slots[Int(slot)].movedAt >= slack else { return }
        unlink(slot)
        linkFront(slot)
    }

    // MARK: Index (open addressing, linear probing)

    @inline(__always)
    private func hash(of key: Key) -> UInt32 {
        key.withKeyBytes { hash(bytes: $0) }
    }

    /// The slot holding `key`, if any.
    @inline(__always)
    private func find(_ key: Key, hash: UInt32) -> Int32? {
        bucket(of: key, hash: hash).map { Int32(Self.slot(of: table[$0])) }
    }

    /// The table bucket that points at `key`'s slot, if any (linear probing from the hash's home).
    @inline(__always)
    private func bucket(of key: Key, hash: UInt32) -> Int? {
        key.withKeyBytes { bucket(hash: hash, bytes: $0) }
    }

    /// The table bucket of the entry with this hash whose key is `bytes`, if any.
    @inline(__always)
    private func bucket(hash: UInt32, bytes: UnsafeRawBufferPointer) -> Int? {
        guard !table.isEmpty else { return nil }
        let mask = table.count - 1
        var bucket = Int(hash) & mask
        // Through the buffers: the key is compared in its slot, which is not copied.
        return table.withUnsafeBufferPointer { table in
            slots.withUnsafeBufferPointer { slots in
                while true {
                    let entry = table[bucket]
                    if entry == 0 { return nil }
                    if Self.hash(of: entry) == hash {
                        let slot = Self.slot(of: entry)
                        if slots[slot].key.equals(bytes) { return bucket }
                        if slots[slot].key.isLong, longKeys[Int32(slot)]!.withKeyBytes({ ConsentCacheHash.equal($0, bytes) }) {
                            return bucket
                        }
                    }
                    bucket = (bucket &+ 1) & mask
                }
            }
        }
    }

    /// The table bucket that points at a slot in use.
    private func bucket(of slot: Int32) -> Int {
        let hash = withKeyBytes(of: slot) { self.hash(bytes: $0) }
        let mask = table.count - 1
        var bucket = Int(hash) & mask
        while Self.slot(of: table[bucket]) != Int(slot) { bucket = (bucket &+ 1) & mask }
        return bucket
    }

    /// Calls `body` with the bytes of the key of a slot in use.
    private func withKeyBytes<R>(of slot: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let key = slots[Int(slot)].key
        return key.isLong ? longKeys[slot]!.withKeyBytes(body) : key.withBytes(body)
    }

    /// The key of a slot in use.
    private func key(of slot: Int32) -> Key {
        slots[Int(slot)].key.isLong ? longKeys[slot]! : withKeyBytes(of: slot) { Key(keyBytes: $0) }
    }

    private mutating func addToTable(_ slot: Int32, hash: UInt32) {
        if (live + 1) * 4 > table.count * 3 { grow() }
        let mask = table.count - 1
        var bucket = Int(hash) & mask
        while table[bucket] != 0 { bucket = (bucket &+ 1) & mask }
        table[bucket] = Self.entry(slot: slot, hash: hash)
    }

    @inline(__always)
    private static func entry(slot: Int32, hash: UInt32) -> UInt64 {
        UInt64(hash) << 32 | UInt64(UInt32(slot) &+ 1)
    }

    @inline(__always)
    private static func slot(of entry: UInt64) -> Int {
        Int(UInt32(truncatingIfNeeded: entry) &- 1)
    }

    @inline(__always)
    private static func hash(of entry: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: entry >> 32)
    }

    /// Removes `key`'s bucket; returns its slot.
    private mutating func removeFromTable(_ key: Key, hash: UInt32) -> Int32? {
        guard let bucket = bucket(of: key, hash: hash) else { return nil }
        let found = Int32(Self.slot(of: table[bucket]))
        removeFromTable(bucket)
        return found
    }

    /// Empties a bucket, shifting back the entries that probed past it.
    private mutating func removeFromTable(_ bucket: Int) {
        let mask = table.count - 1
        var hole = bucket
        var next = bucket
        while true {
            next = (next &+ 1) & mask
            let entry = table[next]
            if entry == 0 { break }
            let home = Int(Self.hash(of: entry)) & mask
            // The entry at `next` may move into the hole unless its home lies cyclically in (hole, next].
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if !stays {
                table[hole] = entry
                hole = next
            }
        }
        table[hole] = 0
    }

    private mutating func grow() {
        let size = max(16, table.count * 2)
        var grown = [UInt64](repeating: 0, count: size)
        let mask = size - 1
        for entry in table where entry != 0 {
            var bucket = Int(Self.hash(of: entry)) & mask
            while grown[bucket] != 0 { bucket = (bucket &+ 1) & mask }
            grown[bucket] = entry
        }
        table = grown
    }
}
