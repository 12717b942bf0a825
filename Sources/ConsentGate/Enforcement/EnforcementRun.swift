import ConsentCore
import SegmentWire

/// A subject's truth as the resolver answered it, and the id it was found under.
typealias LookupAnswer = (subject: String?, outcome: LookupOutcome)

/// One request's enforcement in progress, a value the caller drives through ``ConsentEnforcer``:
/// ``ConsentEnforcer/advance(_:resolved:)`` decides events in order until one needs its subject's
/// truth from the store, and then names every pair of ids the rest of the request needs from the
/// store; the caller resolves them together (the only wait) and advances again, then
/// ``ConsentEnforcer/finish(_:)`` audits and counts. A request the cache answers entirely runs to its
/// end in one call, on the caller's thread, without a suspension.
struct EnforcementRun: Sendable {
    /// What the caller does next.
    enum Step: Sendable, Equatable {
        /// Resolve these pairs (``ConsentResolver/resolve(_:within:)``) and advance with the answers.
        case resolve([SubjectPair])
        /// Every event is decided: ``ConsentEnforcer/finish(_:)``.
        case finished
    }

    let request: ScannedRequest
    let subjects: [EventSubject?]
    let body: RequestBytes
    let gpc: Bool
    let requestId: String?
    /// What the cache answered by mask, per event (empty when not asked).
    let truths: [CachedTruth?]
    /// What the cache answered by name for the other events that need a truth (empty when not asked).
    let cached: [LookupAnswer?]
    /// The first event shown in the live view (the count when it is not watched).
    let shownFrom: Int

    /// The store's answers so far, by pair of ids.
    private(set) var answers: [SubjectPair: LookupAnswer] = [:]
    /// The next event to decide.
    private(set) var next = 0
    /// One edit per decided event.
    private(set) var edits: [EventEdit] = []
    /// Every decided event by verdict and action (``GatewayMetrics/eventIndexes(verdict:action:)``).
    private(set) var counted: [(verdict: Int, action: Int)] = []
    /// The decisions kept past the loop (see ``NotableEvent``).
    private(set) var notable: [NotableEvent] = []
    /// An event's policy action was `reject`: the whole request is refused.
    private(set) var rejected = false

    init(
        request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, gpc: Bool, requestId: String?,
        truths: [CachedTruth?], cached: [LookupAnswer?], shownFrom: Int
    ) {
        self.request = request
        self.subjects = subjects
        self.body = body
        self.gpc = gpc
        self.requestId = requestId
        self.truths = truths
        self.cached = cached
        self.shownFrom = shownFrom
        edits.reserveCapacity(subjects.count)
        counted.reserveCapacity(subjects.count)
    }

    /// Takes in answers to a ``Step/resolve(_:)``.
    mutating func answer(_ resolved: [SubjectPair: LookupAnswer]) {
        answers.merge(resolved) { _, new in new }
    }

    /// Records the next event's decision, made for `subject` (the id, when it is needed).
    mutating func record(_ decision: ConsentDecision, subject: String?) {
        switch decision.effective {
        case .forward: edits.append(.keep)
        case .drop: edits.append(.drop)
        case .restamp: edits.append(.restamp(decision.restampPreferences ?? []))
        case .reject:
            edits.append(.drop)
            rejected = true
        }
        counted.append(GatewayMetrics.eventIndexes(verdict: decision.verdict, action: decision.effective))
        if decision.decided != .forward || next >= shownFrom || decision.verdict.isCountedApart {
            notable.append(NotableEvent(index: next, decision: decision, subject: subject))
        }
        next += 1
    }

    /// Records the next event as invalid: dropped.
    mutating func recordInvalid() {
        edits.append(.drop)
        counted.append(GatewayMetrics.eventIndexes(verdict: nil, action: .drop))
        notable.append(NotableEvent(index: next, decision: nil, subject: nil))
        next += 1
    }
}

/// An event whose decision is kept past the loop that makes it: one to audit (not forwarded unchanged),
/// to count by category (a mismatch) or by store failure, or to show in the live view.
struct NotableEvent: Sendable {
    var index: Int
    /// `nil` for an invalid event.
    var decision: ConsentDecision?
    /// The id the decision was made for, when it is needed.
    var subject: String?
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
