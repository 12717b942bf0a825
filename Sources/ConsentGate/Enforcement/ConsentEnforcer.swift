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
}

/// Decides, per event, whether it goes upstream as is, corrected, or not at all: resolves the
/// subject's truth through the cache, compares it with the event's stamp (after merging the batch's
/// top-level `context`), applies the policy, and audits every event not forwarded unchanged.
final class ConsentEnforcer: Sendable {
    let resolver: ConsentResolver
    let policy: ConsentPolicy
    let maxStaleGrant: Duration
    let audit: AuditLog?
    let hasher: SubjectHasher
    let metrics: GatewayMetrics
    let feed: DecisionFeed
    private let storeWarning: RateLimitedWarning
    private let auditWarning: RateLimitedWarning

    init(
        resolver: ConsentResolver, policy: ConsentPolicy, maxStaleGrant: Duration, audit: AuditLog?, hasher: SubjectHasher,
        metrics: GatewayMetrics, feed: DecisionFeed, logger: Logger
    ) {
        self.resolver = resolver
        self.policy = policy
        self.maxStaleGrant = maxStaleGrant
        self.audit = audit
        self.hasher = hasher
        self.metrics = metrics
        self.feed = feed
        self.storeWarning = RateLimitedWarning("consent store unavailable: events could not be verified", logger: logger)
        self.auditWarning = RateLimitedWarning("audit log write failed", logger: logger)
    }

    /// Enforces a request, waiting for the store where the cache cannot answer.
    func enforce(_ request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, gpc: Bool, requestId: String?) async -> Enforcement {
        var run = begin(request, subjects: subjects, body: body, gpc: gpc, requestId: requestId)
        var answer: (subject: String?, outcome: LookupOutcome)?
        while case .resolve(let userId, let anonymousId) = advance(&run, resolved: answer) {
            answer = await resolver.resolve(userId: userId, anonymousId: anonymousId)
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
        let truths = hasPreferenceUpdate ? [] : cachedTruths(request, subjects: subjects, body: body, gpc: gpc)
        let cached = hasPreferenceUpdate ? [] : cachedOutcomes(request, subjects: subjects, body: body, answered: truths)
        return EnforcementRun(
            request: request, subjects: subjects, body: body, gpc: gpc, requestId: requestId, truths: truths, cached: cached,
            shownFrom: shownFrom)
    }

    /// Decides events in order until one needs its subject's truth from the store (or none is left).
    /// - Parameter resolved: the answer to the last ``EnforcementRun/Step/resolve(userId:anonymousId:)``, if any.
    func advance(_ run: inout EnforcementRun, resolved: (subject: String?, outcome: LookupOutcome)?) -> EnforcementRun.Step {
        if let resolved {
            // The waiting event's preference update (if any) was applied before it asked.
            decide(&run, lookup: resolved)
        }
        // Read out of the run once, not per event.
        let (request, subjects, body, truths, cached) = (run.request, run.subjects, run.body, run.truths, run.cached)
        while run.next < subjects.count {
            let index = run.next
            guard let subject = subjects[index] else {
                run.recordInvalid()
                continue
            }
            let stamp = request.effectiveStamp(of: request.events[index]).map { request.entries(of: $0) }
            if let (fast, choice) = decidedByMask(index < truths.count ? truths[index] : nil, stamp: stamp, gpc: run.gpc) {
                // The id is only read for an audit record or the live view.
                let named = fast.decided != .forward || index >= run.shownFrom
                run.record(fast, subject: named ? choice.flatMap { choice in body.withBytes { subject.id(choice, in: $0) } } : nil)
                continue
            }
            let ids = body.withBytes { subject.ids(in: $0) }
            if subject.isPreferenceUpdate {
                // The user just changed their consent: whatever is cached for them is outdated.
                if let userId = ids.userId { resolver.invalidate(subject: userId) }
                if let anonymousId = ids.anonymousId { resolver.invalidate(subject: anonymousId) }
            }
            if index < cached.count, let answer = cached[index] {
                decide(&run, lookup: answer)
            } else if policy.needsTruth(hasStamp: stamp != nil, isPreferenceUpdate: subject.isPreferenceUpdate) {
                return .resolve(userId: ids.userId, anonymousId: ids.anonymousId)
            } else {
                decide(&run, lookup: (ids.userId ?? ids.anonymousId, .unknown))
            }
        }
        return .finished
    }

    /// Decides the run's next event (which has a subject) against its subject's truth.
    private func decide(_ run: inout EnforcementRun, lookup: (subject: String?, outcome: LookupOutcome)) {
        let request = run.request
        let stamp = request.effectiveStamp(of: request.events[run.next]).map { request.entries(of: $0) }
        let decision = VerdictEngine.decide(
            isPreferenceUpdate: run.subjects[run.next]?.isPreferenceUpdate ?? false, stamp: stamp, lookup: lookup.outcome,
            gpc: run.gpc, policy: policy, maxStaleGrant: maxStaleGrant)
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
                auditWarning.emit(["path": "\(audit.path)"])
            }
        }
        if run.rejected {
            // In a rejected request nothing is forwarded: every event's action is reject.
            let reject = GatewayMetrics.eventIndexes(verdict: nil, action: .reject).action
            for index in counted.indices { counted[index].action = reject }
        }
        observe(run.request, counted: counted, notable: run.notable, shownFrom: run.shownFrom, body: run.body, rejected: run.rejected)
        return Enforcement(edits: run.edits, rejected: run.rejected)
    }

    /// The decision for an event the cache answered by mask, and which id named its subject.
    private func decidedByMask(
        _ truth: CachedTruth?, stamp: ArraySlice<CategoryPreference>?, gpc: Bool
    ) -> (ConsentDecision, SubjectChoice?)? {
        switch truth {
        case nil:
            return nil
        case .record(let grants, let version, let subject):
            let decision = VerdictEngine.decide(stampGrants: grants, truthGrants: grants, version: version, gpc: gpc, policy: policy)
            return decision.map { ($0, subject) }
        case .unknown(let subject):
            let decision = VerdictEngine.decide(
                isPreferenceUpdate: false, stamp: stamp, lookup: .unknown, gpc: gpc, policy: policy, maxStaleGrant: maxStaleGrant)
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
                metrics.mismatch(over: decision.over, under: decision.under)
            }
            if decision.verdict == .storeUnavailable { unavailable += 1 }
        }
        metrics.events(counted)
        if unavailable > 0 { storeWarning.emit(["store": "\(resolver.store.kind)", "events": "\(unavailable)"]) }

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
                let grants = stamps.grants(of: stamp)
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
    ) -> [(subject: String?, outcome: LookupOutcome)?] {
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
