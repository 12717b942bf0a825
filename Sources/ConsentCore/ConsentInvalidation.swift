/// A change to the store of record that the cache must hear about.
public enum ConsentInvalidation: Sendable, Hashable {
    /// One subject's record changed (written, erased, or renamed): drop it from the cache.
    case subject(String)
    /// Changes may have been missed (the feed was interrupted, or a change touched too many subjects
    /// to name): every cached entry is to be treated as expired.
    case all
}

/// A store that tells when its records change, however they changed: through consentgate or behind
/// its back (e.g. by the customer's own SQL). Replicas sharing one store stay consistent through it.
///
/// A store without this capability is only refreshed by cache TTLs, consentgate's own writes, and the
/// admin listener's invalidation webhook.
public protocol InvalidatingConsentStore: ConsentStore {
    /// Starts delivering changes to `handler` until the store is closed. Call it at most once.
    ///
    /// `handler` runs on the store's own task, so it must be quick (it is, for
    /// ``ConsentResolver/apply(_:)``). The feed reports ``ConsentInvalidation/all`` whenever it may
    /// have missed changes, and again once it is back: what was cached meanwhile may predate a change.
    func startInvalidations(_ handler: @escaping @Sendable (ConsentInvalidation) -> Void)
}

extension ConsentResolver {
    /// Applies one change reported by the store: forgets a subject, or expires every entry.
    public func apply(_ invalidation: ConsentInvalidation) {
        switch invalidation {
        case .subject(let subject): invalidate(subject: subject)
        case .all: markAllStale()
        }
    }
}
