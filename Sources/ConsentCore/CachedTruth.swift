/// One event for ``ConsentResolver/cachedTruths(_:in:)``: where its ids are in the request body (the
/// bytes of each id as the store would see them: a string without escapes, between its quotes, or a
/// number's text; `nil` for an absent or empty id) and what its stamp grants.
public struct SubjectBytes: Sendable, Hashable {
    public var userId: Range<Int>?
    public var anonymousId: Range<Int>?
    /// The categories the event's stamp grants, as bits of the cache's ``CategoryIDs``.
    public var stampGrants: UInt64

    public init(userId: Range<Int>?, anonymousId: Range<Int>?, stampGrants: UInt64) {
        self.userId = userId
        self.anonymousId = anonymousId
        self.stampGrants = stampGrants
    }
}

/// Which of an event's ids names the subject whose truth applies.
public enum SubjectChoice: Sendable, Hashable {
    case userId
    case anonymousId
}

/// What the cache alone knows of an event's subject, read without building a record: the fast path
/// for events whose stamp is compared by mask (see ``VerdictEngine/decide(stampGrants:truthGrants:version:gpc:policy:)``).
/// Only a record that grants what the stamp grants is answered this way; a mismatch needs the record.
public enum CachedTruth: Sendable, Hashable {
    /// A fresh record of the subject named by `subject` that grants exactly the categories of
    /// `grants` (the stamp's ``SubjectBytes/stampGrants``).
    case record(grants: UInt64, version: Int64, subject: SubjectChoice)
    /// The store knows neither id (fresh negative entries). The subject is the `userId` if there is
    /// one, else the `anonymousId`, as in ``ConsentResolver/resolve(userId:anonymousId:)``.
    case unknown(subject: SubjectChoice?)
}
