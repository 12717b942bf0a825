/// What the cache (and, behind it, the store of record) answered for one subject.
public enum LookupOutcome: Sendable, Hashable {
    /// The subject's record, from a fresh cache entry or straight from the store.
    case fresh(ConsentRecord)
    /// The store failed, and the cache still held this record, expired `expiredFor` ago.
    /// The verdict engine decides whether it may serve (see ``VerdictEngine``).
    case stale(ConsentRecord, expiredFor: Duration)
    /// The store does not know the subject (answered now, or a fresh negative cache entry).
    case unknown
    /// The store failed and no cached record may stand in for it.
    case unavailable

    /// The record, fresh or stale.
    public var record: ConsentRecord? {
        switch self {
        case .fresh(let record), .stale(let record, _): record
        case .unknown, .unavailable: nil
        }
    }

    /// A metric label value: `fresh`, `stale`, `unknown` or `unavailable`.
    public var label: String {
        switch self {
        case .fresh: "fresh"
        case .stale: "stale"
        case .unknown: "unknown"
        case .unavailable: "unavailable"
        }
    }
}

/// An event's two ids, as ``ConsentResolver/resolve(userId:anonymousId:)`` takes them.
public struct SubjectPair: Sendable, Hashable {
    public var userId: String?
    public var anonymousId: String?

    public init(userId: String?, anonymousId: String?) {
        self.userId = userId
        self.anonymousId = anonymousId
    }
}
