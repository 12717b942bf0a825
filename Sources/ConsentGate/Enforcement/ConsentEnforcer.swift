import ConsentCore
import FoundationEssentials
import Logging
import SegmentWire

typealias EventEdit = BatchEncoder.EventEdit

/// What enforcement decided for a request.
struct Enforcement: Sendable {
    /// One edit per event, in order.
    var edits: [EventEdit]
    /// The whole request must be refused with 503 (consent unverifiable and `on_store_unavailable: reject`).
    var rejected: Bool
    /// The batch's shared stamp must leave the forwarded request (see ``BatchEncoder/isolatingSharedStamp(_:edits:)``).
    var removeSharedStamp = false

    /// Nothing to change: the original bytes go upstream.
    var keepsEverything: Bool { !removeSharedStamp && edits.allSatisfy { $0 == .keep } }
}

/// Decides, per event, whether it goes upstream as is, corrected, or not at all: resolves the
/// subject's truth through the cache, compares it with the event's stamp (after merging the batch's
/// top-level `context`), applies the policy, and audits every event not forwarded unchanged.
///
/// There is one per source (each with its own policy); they share the resolver, its cache and store,
/// the audit log and the decision feed, and name their source on every metric, audit record, feed entry
/// and warning they make.
final class ConsentEnforcer: Sendable {
    /// The source's name (``GatewayConfiguration/Source/defaultName`` for the top-level settings); never a write key.
    let source: String
    let resolver: ConsentResolver
    let policy: ConsentPolicy
    let maxStaleGrant: Duration
    /// `store.request_deadline_seconds`: how long one request's store lookups may take in all.
    let requestDeadline: Duration
    let audit: AuditLog?
    let hasher: SubjectHasher
    let metrics: GatewayMetrics
    /// This source's per-event counters, from ``metrics``.
    private let counters: SourceCounters
    let feed: DecisionFeed
    private let storeWarning: RateLimitedWarning
    private let auditWarning: RateLimitedWarning

    init(
        resolver: ConsentResolver, policy: ConsentPolicy, maxStaleGrant: Duration, requestDeadline: Duration = .seconds(5),
        audit: AuditLog?, hasher: SubjectHasher, metrics: GatewayMetrics, feed: DecisionFeed, logger: Logger,
        source: String = GatewayConfiguration.Source.defaultName
    ) {
        self.source = source
        self.resolver = resolver
        self.policy = policy
        self.maxStaleGrant = maxStaleGrant
        self.requestDeadline = requestDeadline
        self.audit = audit
        self.hasher = hasher
        self.metrics = metrics
        self.counters = metrics.counters(source: source)
        self.feed = feed
        self.storeWarning = RateLimitedWarning("consent store unavailable: events could not be verified", logger: logger)
        self.auditWarning = RateLimitedWarning("audit log write failed", logger: logger)
    }

    /// Enforces a request, waiting for the store where the cache cannot answer.
    func enforce(_ request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, gpc: Bool, requestId: String?) async -> Enforcement {
        var run = begin(request, subjects: subjects, body: body, gpc: gpc, requestId: requestId)
        var answers: [SubjectPair: LookupAnswer]?
        while case .resolve(let pairs) = advance(&run, resolved: answers) {
            // Every miss of the request at once, within the request's deadline.
            let outcomes = await resolver.resolve(pairs, within: requestDeadline)
            answers = Dictionary(zip(pairs, outcomes), uniquingKeysWith: { first, _ in first })
        }
        return finish(run)
    }

    /// Starts a request's enforcement: asks the cache, without waiting, for every subject it can answer.
    func begin(_ request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, gpc: Bool, requestId: String?) -> EnforcementRun {
        let shownFrom = feed.isWatched ? max(0, subjects.count - DecisionFeed.shownPerRequest) : subjects.count
        // Fast paths, neither of which waits: first the events the cache answers by mask (consistent
        // stamps, unknown subjects), then, under one more lock, the other events whose subjects are
        // cached. Not when the batch holds a preference update, whose invalidation must reach later events.
        let hasPreferenceUpdate = subjects.contains { $0?.isPreferenceUpdate == true }
        if hasPreferenceUpdate { invalidatePreferenceUpdates(subjects, body: body) }
        let truths = hasPreferenceUpdate ? [] : cachedTruths(request, subjects: subjects, body: body, gpc: gpc)
        let cached = hasPreferenceUpdate ? [] : cachedOutcomes(request, subjects: subjects, body: body, answered: truths)
        return EnforcementRun(
            request: request, subjects: subjects, body: body, gpc: gpc, requestId: requestId, truths: truths, cached: cached,
            shownFrom: shownFrom)
    }

    /// Decides events in order until one needs its subject's truth from the store (or none is left);
    /// then asks for every pair the rest of the request needs from the store, all at once.
    /// - Parameter resolved: the answers to the last ``EnforcementRun/Step/resolve(_:)``, if any.
    func advance(_ run: inout EnforcementRun, resolved: [SubjectPair: LookupAnswer]?) -> EnforcementRun.Step {
        if let resolved { run.answer(resolved) }
        // Read out of the run once, not per event.
        let (request, subjects, body, cached) = (run.request, run.subjects, run.body, run.cached)
        while run.next < subjects.count {
            let index = run.next
            guard let subject = subjects[index] else {
                run.recordInvalid()
                continue
            }
            if let (fast, choice) = decidedByMask(run, index) {
                // The id is only read for an audit record or the live view.
                let named = fast.decided != .forward || index >= run.shownFrom
                run.record(fast, subject: named ? choice.flatMap { choice in body.withBytes { subject.id(choice, in: $0) } } : nil)
                continue
            }
            if index < cached.count, let answer = cached[index] {
                decide(&run, lookup: answer)
                continue
            }
            let ids = body.withBytes { subject.ids(in: $0) }
            let hasStamp = request.effectiveStamp(of: request.events[index]) != nil
            guard policy.needsTruth(hasStamp: hasStamp, isPreferenceUpdate: subject.isPreferenceUpdate) else {
                decide(&run, lookup: (ids.userId ?? ids.anonymousId, .unknown))
                continue
            }
            let pair = SubjectPair(userId: ids.userId, anonymousId: ids.anonymousId)
            if let answer = run.answers[pair] {
                decide(&run, lookup: answer)
                continue
            }
            let misses = missingPairs(&run, from: index)
            if !misses.isEmpty { return .resolve(misses) }
            // Else the cache answered the pair just now: the next turn decides the event.
        }
        return .finished
    }

    /// The distinct pairs that events from `index` on need from the store. Pairs the cache answers now
    /// are answered in the run instead (one lock for them all, no suspension).
    private func missingPairs(_ run: inout EnforcementRun, from index: Int) -> [SubjectPair] {
        let (request, subjects) = (run.request, run.subjects)
        var needed: [SubjectPair] = []
        var seen = Set<SubjectPair>()
        run.body.withBytes { bytes in
            for later in index..<subjects.count {
                guard let subject = subjects[later], decidedByMask(run, later) == nil else { continue }
                if later < run.cached.count, run.cached[later] != nil { continue }
                let hasStamp = request.effectiveStamp(of: request.events[later]) != nil
                guard policy.needsTruth(hasStamp: hasStamp, isPreferenceUpdate: subject.isPreferenceUpdate) else { continue }
                let ids = subject.ids(in: bytes)
                let pair = SubjectPair(userId: ids.userId, anonymousId: ids.anonymousId)
                if run.answers[pair] == nil, seen.insert(pair).inserted { needed.append(pair) }
            }
        }
        let cachedAnswers = resolver.cachedOutcomes(needed.map { ($0.userId, $0.anonymousId) })
        var misses: [SubjectPair] = []
        for (offset, pair) in needed.enumerated() {
            if offset < cachedAnswers.count, let answer = cachedAnswers[offset] {
                run.answer([pair: answer])
            } else {
                misses.append(pair)
            }
        }
        return misses
    }

    /// Forgets what the cache holds for the subject of every preference update in the request: their
    /// consent just changed, so every event of the request reads it afresh from the store.
    private func invalidatePreferenceUpdates(_ subjects: [EventSubject?], body: RequestBytes) {
        body.withBytes { bytes in
            for case let subject? in subjects where subject.isPreferenceUpdate {
                let ids = subject.ids(in: bytes)
                if let userId = ids.userId { resolver.invalidate(subject: userId) }
                if let anonymousId = ids.anonymousId { resolver.invalidate(subject: anonymousId) }
            }
        }
    }

    /// Decides the run's next event (which has a subject) against its subject's truth, under every stamp
    /// that may reach it.
    private func decide(_ run: inout EnforcementRun, lookup: LookupAnswer) {
        let request = run.request
        let event = request.events[run.next]
        let decision = VerdictEngine.decide(
            isPreferenceUpdate: run.subjects[run.next]?.isPreferenceUpdate ?? false,
            stamp: request.effectiveStamp(of: event).map { request.entries(of: $0) },
            secondStamp: request.secondStamp(of: event).map { request.entries(of: $0) },
            lookup: lookup.outcome, gpc: run.gpc, policy: policy, maxStaleGrant: maxStaleGrant)
        run.record(decision, subject: lookup.subject)
    }

    /// Audits and counts a finished run's decisions; its edits for the request.
    func finish(_ run: EnforcementRun) -> Enforcement {
        precondition(run.next == run.subjects.count, "finish(_:) before every event was decided")
        var counted = run.counted
        if let audit {
            let records = auditRecords(run.request, notable: run.notable, body: run.body, requestId: run.requestId)
            if !audit.append(records) {
                metrics.auditWriteFailed()
                auditWarning.emit([LogKey.path: "\(audit.path)", LogKey.source: "\(source)"])
            }
        }
        if run.rejected {
            // In a rejected request nothing is forwarded: every event's action is reject.
            let reject = GatewayMetrics.eventIndexes(verdict: nil, action: .reject).action
            for index in counted.indices { counted[index].action = reject }
        }
        observe(run.request, counted: counted, notable: run.notable, shownFrom: run.shownFrom, body: run.body, rejected: run.rejected)
        let (edits, removeSharedStamp) = BatchEncoder.isolatingSharedStamp(run.request, edits: run.edits)
        return Enforcement(edits: edits, rejected: run.rejected, removeSharedStamp: removeSharedStamp)
    }

    /// The decision for event `index` if the cache answered it by mask, and which id named its subject.
    private func decidedByMask(_ run: EnforcementRun, _ index: Int) -> (ConsentDecision, SubjectChoice?)? {
        guard index < run.truths.count else { return nil }
        switch run.truths[index] {
        case nil:
            return nil
        case .record(let grants, let version, let subject):
            let decision = VerdictEngine.decide(stampGrants: grants, truthGrants: grants, version: version, gpc: run.gpc, policy: policy)
            return decision.map { ($0, subject) }
        case .unknown(let subject):
            let request = run.request
            let stamp = request.effectiveStamp(of: request.events[index]).map { request.entries(of: $0) }
            let decision = VerdictEngine.decide(
                isPreferenceUpdate: false, stamp: stamp, lookup: .unknown, gpc: run.gpc, policy: policy, maxStaleGrant: maxStaleGrant)
            return (decision, subject)
        }
    }

    /// Counts every event and feeds the newest decisions to the live view.
    private func observe(
        _ request: ScannedRequest, counted: [(verdict: Int, action: Int)], notable: [NotableEvent], shownFrom: Int,
        body: RequestBytes, rejected: Bool
    ) {
        var unavailable = 0
        for event in notable {
            guard let decision = event.decision else { continue }
            if !decision.over.isEmpty || !decision.under.isEmpty, case .mismatch = decision.verdict {
                counters.mismatch(over: decision.over, under: decision.under)
            }
            if decision.verdict == .storeUnavailable { unavailable += 1 }
        }
        counters.events(counted)
        if unavailable > 0 {
            storeWarning.emit([LogKey.store: "\(resolver.store.kind)", LogKey.events: "\(unavailable)", LogKey.source: "\(source)"])
        }

        guard shownFrom < counted.count else {
            feed.record([], counted: counted)
            return
        }
        let time = Date.now.formatted(.iso8601)
        // Every event from `shownFrom` on is notable, in order.
        let entries: [DecisionFeed.Entry] = body.withBytes { bytes in
            notable.filter { $0.index >= shownFrom }.map { shown in
                let event = request.events[shown.index]
                let decision = shown.decision
                let name = event.eventName.map { String(JSONString.decode($0, in: bytes).prefix(64)) }
                return DecisionFeed.Entry(
                    time: time,
                    source: source,
                    eventType: event.type?.name,
                    eventName: name,
                    subject: shown.subject,
                    verdict: decision?.verdict.label ?? "invalid",
                    action: (rejected ? ConsentAction.reject : (decision?.effective ?? .drop)).label,
                    over: decision?.over ?? [],
                    under: decision?.under ?? []
                )
            }
        }
        feed.record(entries, counted: counted)
    }

    /// What the cache answers by mask for each event with a stamp (see ``ConsentResolver/cachedTruths(_:in:)``);
    /// `nil` for the others, and none at all when `Sec-GPC: 1` denies categories (those compare by name).
    private func cachedTruths(_ request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, gpc: Bool) -> [CachedTruth?] {
        guard !gpc || policy.gpcCategories.isEmpty, var stamps = StampGrants(request, resolver: resolver) else { return [] }
        var lookups: [SubjectBytes?] = []
        lookups.reserveCapacity(subjects.count)
        for (index, subject) in subjects.enumerated() {
            guard let subject, let stamp = request.effectiveStamp(of: request.events[index]), let bytes = subject.bytes,
                let grants = stamps.grants(of: stamp),
                // A second stamp that may reach the event must grant the same, or the event is decided by name.
                request.secondStamp(of: request.events[index]).map({ stamps.grants(of: $0) == grants }) ?? true
            else {
                lookups.append(nil)
                continue
            }
            lookups.append(SubjectBytes(userId: bytes.userId, anonymousId: bytes.anonymousId, stampGrants: grants))
        }
        return body.withBytes { resolver.cachedTruths(lookups, in: $0) }
    }

    /// What the cache alone answers now for each event that needs its subject's truth and was not
    /// `answered` by mask (`nil` elsewhere).
    private func cachedOutcomes(
        _ request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, answered: [CachedTruth?]
    ) -> [LookupAnswer?] {
        let pairs: [(userId: String?, anonymousId: String?)?] = body.withBytes { bytes in
            subjects.enumerated().map { index, subject in
                guard let subject, index >= answered.count || answered[index] == nil else { return nil }
                let hasStamp = request.effectiveStamp(of: request.events[index]) != nil
                guard policy.needsTruth(hasStamp: hasStamp, isPreferenceUpdate: false) else { return nil }
                return subject.ids(in: bytes)
            }
        }
        guard pairs.contains(where: { $0 != nil }) else { return [] }
        return resolver.cachedOutcomes(pairs)
    }

    /// A record for every event that was not forwarded unchanged (in shadow mode: would not have been).
    private func auditRecords(_ request: ScannedRequest, notable: [NotableEvent], body: RequestBytes, requestId: String?) -> [AuditRecord] {
        let needed = notable.filter { $0.decision.map { $0.decided != .forward } ?? true }
        guard !needed.isEmpty else { return [] }
        let time = Date.now.formatted(.iso8601)
        return body.withBytes { bytes in
            needed.map { audited in
                let event = request.events[audited.index]
                let decision = audited.decision
                return AuditRecord(
                    time: time,
                    requestId: requestId,
                    source: source,
                    messageId: event.messageId.map { JSONString.decode($0, in: bytes) },
                    subject: audited.subject.map(hasher.name(of:)),
                    eventType: event.type?.name,
                    verdict: decision?.verdict.label ?? "invalid",
                    action: decision?.decided.label ?? "drop",
                    mode: policy.mode.rawValue,
                    over: decision?.over ?? [],
                    under: decision?.under ?? [],
                    recordVersion: decision?.recordVersion,
                    reason: event.defect?.rawValue
                )
            }
        }
    }
}
