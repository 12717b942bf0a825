import Synchronization

/// Finds subjects' consent through the cache, asking the store on a miss: the async driver of
/// ``ConsentCache``.
///
/// Concurrent misses for one subject make one store lookup (single-flight): the first caller fetches,
/// the others wait for its outcome. A store error is never cached; it yields the stale record if the
/// cache still holds one, else ``LookupOutcome/unavailable``. The store is never called with the lock
/// held. A waiter's task waits for the fetch even if cancelled; the store bounds the wait with its
/// own timeout.
public final class ConsentResolver: Sendable {
    /// Reads the monotonic clock (injected, so that tests control time).
    public typealias Clock = @Sendable () -> ContinuousClock.Instant

    private struct State: Sendable {
        var cache: ConsentCache<String>
        var rng: any RandomNumberGenerator & Sendable
        /// The callers waiting for each fetch in flight (including detached ones).
        var waiters: [ConsentCache<String>.FetchToken: [CheckedContinuation<LookupOutcome?, Never>]] = [:]
    }

    /// The store of record.
    public let store: any ConsentStore
    /// The cache's settings (``ConsentCacheConfiguration/maxStaleGrant`` goes to the verdict engine).
    public let configuration: ConsentCacheConfiguration
    private let state: Mutex<State>
    private let clock: Clock
    private let origin: ContinuousClock.Instant

    /// - Parameters:
    ///   - store: the store of record.
    ///   - configuration: the cache's settings.
    ///   - clock: the monotonic clock, e.g. `{ ContinuousClock.now }`.
    ///   - rng: draws the TTL jitter.
    public init(
        store: any ConsentStore,
        configuration: ConsentCacheConfiguration = ConsentCacheConfiguration(),
        clock: @escaping Clock,
        rng: some RandomNumberGenerator & Sendable
    ) {
        self.store = store
        self.configuration = configuration
        self.clock = clock
        self.origin = clock()
        self.state = Mutex(State(cache: ConsentCache(configuration: configuration), rng: rng))
    }

    /// A subject's consent: from a fresh cache entry, else from the store (one lookup however many
    /// callers miss at once), else a stale record, else unavailable.
    public func resolve(subject: String) async -> LookupOutcome {
        while true {
            let now = self.now()
            let action = state.withLock { state in
                let action = state.cache.lookup(subject, now: now)
                if case .fetch(let token) = action { state.waiters[token] = [] }
                return action
            }
            switch action {
            case .hit(let record):
                return .fresh(record)
            case .negativeHit:
                return .unknown
            case .fetch(let token):
                return await fetch(subject, token: token)
            case .join(let token):
                if let outcome = await join(token) { return outcome }
                // The fetch ended between the lookup and the join: look again (now usually a hit).
            }
        }
    }

    /// The subject of an event and its consent: the `userId` if the store knows it (a fresh or stale
    /// record), else the `anonymousId`. Empty ids count as absent.
    ///
    /// When the `userId` lookup is unavailable the answer is unavailable, without falling back to the
    /// `anonymousId`: the `userId`'s truth, if it exists, takes precedence, so it cannot be skipped.
    /// When neither is known the subject is the `userId` if any, and the outcome ``LookupOutcome/unknown``.
    public func resolve(userId: String?, anonymousId: String?) async -> (subject: String?, outcome: LookupOutcome) {
        let userId = userId.flatMap { $0.isEmpty ? nil : $0 }
        let anonymousId = anonymousId.flatMap { $0.isEmpty ? nil : $0 }
        if let userId {
            let outcome = await resolve(subject: userId)
            switch outcome {
            case .fresh, .stale, .unavailable: return (userId, outcome)
            case .unknown: break
            }
        }
        if let anonymousId {
            let outcome = await resolve(subject: anonymousId)
            switch outcome {
            case .fresh, .stale, .unavailable: return (anonymousId, outcome)
            case .unknown: break
            }
        }
        return (userId ?? anonymousId, .unknown)
    }

    /// ``resolve(userId:anonymousId:)`` for many pairs at once: at most the store's
    /// ``ConsentStore/maxConcurrentLookups`` in flight, all within `deadline`.
    ///
    /// A pair not resolved by the deadline is answered ``LookupOutcome/unavailable`` (its verdict is
    /// then `store_unavailable`): one request of many unknown subjects cannot hold its connection for
    /// the sum of their lookups. Lookups already started when the deadline passes finish in the
    /// background (within the store's own timeout) and fill the cache; no new one starts.
    /// - Returns: one answer per pair, in order.
    public func resolve(
        _ pairs: [SubjectPair], within deadline: Duration
    ) async -> [(subject: String?, outcome: LookupOutcome)] {
        let gathered = Gathered<(subject: String?, outcome: LookupOutcome)>(count: pairs.count)
        let width = max(1, min(store.maxConcurrentLookups, pairs.count))
        Task {
            await withTaskGroup(of: Void.self) { group in
                // A sliding window: a new lookup starts as one ends, until none is left or time is up.
                for index in pairs.indices {
                    if index >= width {
                        _ = await group.next()
                        // Past the deadline no new lookup starts. Those in flight are not cancelled: they
                        // end within the store's own timeout and fill the cache (a cancelled lookup would
                        // count as a store failure, and trip the HTTP store's circuit breaker).
                        if gathered.isFinished { break }
                    }
                    let pair = pairs[index]
                    group.addTask {
                        gathered.set(index, await self.resolve(userId: pair.userId, anonymousId: pair.anonymousId))
                    }
                }
            }
            gathered.finish()
        }
        let timer = Task {
            try? await Task.sleep(for: deadline)
            gathered.finish()
        }
        let answers = await gathered.wait()
        timer.cancel()
        return pairs.indices.map { answers[$0] ?? Self.unavailable(pairs[$0]) }
    }

    private static func unavailable(_ pair: SubjectPair) -> (subject: String?, outcome: LookupOutcome) {
        (pair.userId ?? pair.anonymousId, .unavailable)
    }

    /// What ``resolve(userId:anonymousId:)`` answers for each pair, for the pairs the cache alone can
    /// answer now; `nil` for a pair that needs the store (resolve it with ``resolve(userId:anonymousId:)``)
    /// and for a `nil` pair. One lock for them all and no suspension: the fast path of a batch whose
    /// subjects are cached. The cache changes exactly as if each answered pair had been resolved, in order.
    public func cachedOutcomes(
        _ pairs: [(userId: String?, anonymousId: String?)?]
    ) -> [(subject: String?, outcome: LookupOutcome)?] {
        let now = self.now()
        return state.withLock { state in
            var answers: [(subject: String?, outcome: LookupOutcome)?] = []
            answers.reserveCapacity(pairs.count)
            for pair in pairs { answers.append(Self.cachedOutcome(pair, in: &state.cache, now: now)) }
            return answers
        }
    }

    private static func cachedOutcome(
        _ pair: (userId: String?, anonymousId: String?)?, in cache: inout ConsentCache<String>, now: CacheInstant
    ) -> (subject: String?, outcome: LookupOutcome)? {
        guard let pair else { return nil }
        let userId = pair.userId.flatMap { $0.isEmpty ? nil : $0 }
        let anonymousId = pair.anonymousId.flatMap { $0.isEmpty ? nil : $0 }
        // Which entries answer, before touching any (a pair answered only in part changes nothing).
        var userEntry: ConsentCache<String>.FreshEntry?
        if let userId {
            guard let entry = cache.freshEntry(userId, now: now) else { return nil }
            userEntry = entry
        }
        var anonymousEntry: ConsentCache<String>.FreshEntry?
        if userEntry?.isNegative ?? true, let anonymousId {
            guard let entry = cache.freshEntry(anonymousId, now: now) else { return nil }
            anonymousEntry = entry
        }
        if let userEntry, let userId, case .hit(let record) = cache.answer(userEntry) {
            return (userId, .fresh(record))
        }
        if let anonymousEntry, let anonymousId, case .hit(let record) = cache.answer(anonymousEntry) {
            return (anonymousId, .fresh(record))
        }
        return (userId ?? anonymousId, .unknown)
    }

    /// The bits the cache gives these categories (``CategoryIDs``), `nil` for one it gives none: a
    /// stamp that grants such a category grants something no cached record grants by mask.
    /// A category's bit never changes once given.
    public func categoryBits(_ categories: [String]) -> [UInt8?] {
        state.withLock { state in categories.map { state.cache.categories.bit(of: $0) } }
    }

    /// What the cache alone answers now for each event's subject, by mask, without a record or a
    /// `String` made: `nil` for an event the cache cannot answer that way (an id not fresh in the
    /// cache, a record whose grants have no mask, or one that does not grant exactly what the stamp
    /// grants); take those through ``cachedOutcomes(_:)`` or ``resolve(userId:anonymousId:)``.
    ///
    /// The rule is that of ``resolve(userId:anonymousId:)``, and the cache changes exactly as if each
    /// answered event had been resolved, in order; an event not answered changes nothing.
    public func cachedTruths(_ subjects: [SubjectBytes?], in body: UnsafeRawBufferPointer) -> [CachedTruth?] {
        let now = self.now()
        return state.withLock { state in
            // Each id's hash, and its bucket, then its slot, on their way into the processor's cache
            // before the first lookup waits for one (see ``ConsentCache/prefetchBucket(hash:)``).
            var hashes = [UInt32](repeating: 0, count: subjects.count * 2)
            for (index, subject) in subjects.enumerated() {
                guard let subject else { continue }
                if let userId = subject.userId {
                    hashes[2 * index] = state.cache.hash(bytes: UnsafeRawBufferPointer(rebasing: body[userId]))
                    state.cache.prefetchBucket(hash: hashes[2 * index])
                }
                if let anonymousId = subject.anonymousId {
                    hashes[2 * index + 1] = state.cache.hash(bytes: UnsafeRawBufferPointer(rebasing: body[anonymousId]))
                    state.cache.prefetchBucket(hash: hashes[2 * index + 1])
                }
            }
            for (index, subject) in subjects.enumerated() {
                guard let subject else { continue }
                if subject.userId != nil { state.cache.prefetchSlot(hash: hashes[2 * index]) }
                if subject.anonymousId != nil { state.cache.prefetchSlot(hash: hashes[2 * index + 1]) }
            }
            var truths: [CachedTruth?] = []
            truths.reserveCapacity(subjects.count)
            for (index, subject) in subjects.enumerated() {
                truths.append(
                    subject.flatMap {
                        Self.cachedTruth(
                            $0, hashes: (hashes[2 * index], hashes[2 * index + 1]), in: body, cache: &state.cache, now: now)
                    })
            }
            return truths
        }
    }

    private static func cachedTruth(
        _ subject: SubjectBytes, hashes: (userId: UInt32, anonymousId: UInt32), in body: UnsafeRawBufferPointer,
        cache: inout ConsentCache<String>, now: CacheInstant
    ) -> CachedTruth? {
        func entry(_ range: Range<Int>, hash: UInt32) -> ConsentCache<String>.FreshEntry? {
            cache.freshEntry(bytes: UnsafeRawBufferPointer(rebasing: body[range]), hash: hash, now: now)
        }
        // Which entries answer, before touching any (as in cachedOutcome).
        var userEntry: ConsentCache<String>.FreshEntry?
        if let userId = subject.userId {
            guard let found = entry(userId, hash: hashes.userId) else { return nil }
            userEntry = found
        }
        var anonymousEntry: ConsentCache<String>.FreshEntry?
        if userEntry?.isNegative ?? true, let anonymousId = subject.anonymousId {
            guard let found = entry(anonymousId, hash: hashes.anonymousId) else { return nil }
            anonymousEntry = found
        }
        if let userEntry, !userEntry.isNegative {
            guard let grants = cache.grantMask(of: userEntry), grants == subject.stampGrants else { return nil }
            cache.touch(userEntry)
            return .record(grants: grants, version: cache.version(of: userEntry), subject: .userId)
        }
        if let anonymousEntry, !anonymousEntry.isNegative {
            guard let grants = cache.grantMask(of: anonymousEntry), grants == subject.stampGrants else { return nil }
            if let userEntry { cache.touch(userEntry) }
            cache.touch(anonymousEntry)
            return .record(grants: grants, version: cache.version(of: anonymousEntry), subject: .anonymousId)
        }
        if let userEntry { cache.touch(userEntry) }
        if let anonymousEntry { cache.touch(anonymousEntry) }
        return .unknown(subject: subject.userId != nil ? .userId : subject.anonymousId != nil ? .anonymousId : nil)
    }

    /// Forgets a subject's cache entry (its consent changed); a fetch in flight is not cached.
    public func invalidate(subject: String) {
        state.withLock { $0.cache.invalidate(subject) }
    }

    /// Expires every entry now, keeping them for the stale rules (e.g. after missed invalidations).
    public func markAllStale() {
        let now = self.now()
        state.withLock { $0.cache.markAllStale(now: now) }
    }

    /// Forgets every entry.
    public func removeAll() {
        state.withLock { $0.cache.removeAll() }
    }

    /// The cache's counters.
    public var statistics: ConsentCacheStatistics {
        state.withLock { $0.cache.statistics }
    }

    private func now() -> CacheInstant {
        CacheInstant(clock(), since: origin)
    }

    private func fetch(_ subject: String, token: ConsentCache<String>.FetchToken) async -> LookupOutcome {
        let result: Result<ConsentRecord?, ConsentStoreError>
        do {
            result = .success(try await store.lookup(subject: subject))
        } catch {
            result = .failure(error)
        }
        let now = self.now()
        let (outcome, waiters) = state.withLock { state in
            let outcome: LookupOutcome
            switch result {
            case .success(var record):
                // The record's subject shares the key's storage instead of holding a second copy.
                record?.subject = subject
                outcome = state.cache.fetchSucceeded(subject, token: token, record: record, now: now, using: &state.rng)
            case .failure:
                outcome = state.cache.fetchFailed(subject, token: token, now: now)
            }
            return (outcome, state.waiters.removeValue(forKey: token) ?? [])
        }
        for waiter in waiters {
            waiter.resume(returning: outcome)
        }
        return outcome
    }

    /// Waits for the fetch in flight; `nil` when it already ended.
    private func join(_ token: ConsentCache<String>.FetchToken) async -> LookupOutcome? {
        await withCheckedContinuation { (continuation: CheckedContinuation<LookupOutcome?, Never>) in
            let registered = state.withLock { state in
                guard state.waiters[token] != nil else { return false }
                state.waiters[token]!.append(continuation)
                return true
            }
            if !registered { continuation.resume(returning: nil) }
        }
    }
}
