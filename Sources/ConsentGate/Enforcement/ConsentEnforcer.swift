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

/// An event whose decision is kept past the loop that makes it: one to audit (not forwarded unchanged),
/// to count by category (a mismatch) or by store failure, or to show in the live view.
private struct NotableEvent {
    var index: Int
    /// `nil` for an invalid event.
    var decision: ConsentDecision?
    /// The id the decision was made for, when it is needed.
    var subject: String?
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

    func enforce(_ request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, gpc: Bool, requestId: String?) async -> Enforcement {
        var edits: [EventEdit] = []
        edits.reserveCapacity(subjects.count)
        // Every event is counted by verdict and action; only the notable ones keep their decision.
        var counted: [(verdict: Int, action: Int)] = []
        counted.reserveCapacity(subjects.count)
        var notable: [NotableEvent] = []
        let watched = feed.isWatched
        let shownFrom = watched ? max(0, subjects.count - DecisionFeed.shownPerRequest) : subjects.count
        var rejected = false
        // Fast paths, neither of which suspends: first the events the cache answers by mask (consistent
        // stamps, unknown subjects), then, under one more lock, the other events whose subjects are
        // cached. Not when the batch holds a preference update, whose invalidation must reach later events.
        let hasPreferenceUpdate = subjects.contains { $0?.isPreferenceUpdate == true }
        let truths = hasPreferenceUpdate ? [] : cachedTruths(request, subjects: subjects, body: body, gpc: gpc)
        let cached = hasPreferenceUpdate ? [] : cachedOutcomes(request, subjects: subjects, body: body, answered: truths)

        for (index, subject) in subjects.enumerated() {
            guard let subject else {
                edits.append(.drop)
                counted.append(GatewayMetrics.eventIndexes(verdict: nil, action: .drop))
                notable.append(NotableEvent(index: index, decision: nil, subject: nil))
                continue
            }
            let stamp = request.effectiveStamp(of: request.events[index]).map { request.entries(of: $0) }
            let subjectUsed: String?
            let decision: ConsentDecision
            if let (fast, choice) = decidedByMask(index < truths.count ? truths[index] : nil, stamp: stamp, gpc: gpc) {
                decision = fast
                // The id is only read for an audit record or the live view.
                let named = decision.decided != .forward || index >= shownFrom
                subjectUsed = named ? choice.flatMap { choice in body.withBytes { subject.id(choice, in: $0) } } : nil
            } else {
                let ids = body.withBytes { subject.ids(in: $0) }
                if subject.isPreferenceUpdate {
                    // The user just changed their consent: whatever is cached for them is outdated.
                    if let userId = ids.userId { resolver.invalidate(subject: userId) }
                    if let anonymousId = ids.anonymousId { resolver.invalidate(subject: anonymousId) }
                }
                let lookup: LookupOutcome
                if index < cached.count, let answer = cached[index] {
                    (subjectUsed, lookup) = answer
                } else if policy.needsTruth(hasStamp: stamp != nil, isPreferenceUpdate: subject.isPreferenceUpdate) {
                    (subjectUsed, lookup) = await resolver.resolve(userId: ids.userId, anonymousId: ids.anonymousId)
                } else {
                    (subjectUsed, lookup) = (ids.userId ?? ids.anonymousId, .unknown)
                }
                decision = VerdictEngine.decide(
                    isPreferenceUpdate: subject.isPreferenceUpdate, stamp: stamp, lookup: lookup,
                    gpc: gpc, policy: policy, maxStaleGrant: maxStaleGrant)
            }
            switch decision.effective {
            case .forward: edits.append(.keep)
            case .drop: edits.append(.drop)
            case .restamp: edits.append(.restamp(decision.restampPreferences ?? []))
            case .reject:
                edits.append(.drop)
                rejected = true
            }
            counted.append(GatewayMetrics.eventIndexes(verdict: decision.verdict, action: decision.effective))
            if decision.decided != .forward || index >= shownFrom || decision.verdict.isCountedApart {
                notable.append(NotableEvent(index: index, decision: decision, subject: subjectUsed))
            }
        }

        if let audit {
            let records = auditRecords(request, notable: notable, body: body, requestId: requestId)
            if !audit.append(records) {
                metrics.auditWriteFailed()
                auditWarning.emit(["path": "\(audit.path)"])
            }
        }
        if rejected {
            // In a rejected request nothing is forwarded: every event's action is reject.
            let reject = GatewayMetrics.eventIndexes(verdict: nil, action: .reject).action
            for index in counted.indices { counted[index].action = reject }
        }
        observe(request, counted: counted, notable: notable, shownFrom: shownFrom, body: body, rejected: rejected)
        return Enforcement(edits: edits, rejected: rejected)
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

private extension Verdict {
    /// Counted by more than its label: a mismatch by category, a store failure for the warning.
    var isCountedApart: Bool {
        switch self {
        case .mismatch, .storeUnavailable: true
        default: false
        }
    }
}
