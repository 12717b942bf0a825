/// What consentgate concluded about one event's consent stamp, compared with the truth.
public enum Verdict: Sendable, Hashable {
    /// The stamp agrees with the truth (under `compare: no_overgrant`: grants nothing the truth denies).
    case consistent
    /// The stamp disagrees with the truth.
    ///
    /// - `over`: categories the stamp grants but the truth denies (sorted).
    /// - `under`: categories the stamp denies (or omits) but the truth grants (sorted).
    ///   Under `compare: no_overgrant` a mismatch always has over-grants; `under` is informational.
    case mismatch(over: [String], under: [String])
    /// The event carries no `categoryPreferences` (neither its own nor the batch's shared one).
    case missingStamp
    /// The store of record does not know the subject.
    case unknownSubject
    /// The truth could not be obtained: the store failed and no cached entry may serve.
    case storeUnavailable
    /// A `Segment Consent Preference Updated` event: always forwarded, refreshes its subject's cache entry.
    case preferenceUpdate

    /// The verdict's metric label value: `consistent`, `mismatch`, `missing_stamp`, `unknown_subject`,
    /// `store_unavailable` or `preference_update`. Bounded: never carries categories or ids.
    public var label: String {
        switch self {
        case .consistent: "consistent"
        case .mismatch: "mismatch"
        case .missingStamp: "missing_stamp"
        case .unknownSubject: "unknown_subject"
        case .storeUnavailable: "store_unavailable"
        case .preferenceUpdate: "preference_update"
        }
    }

    /// Every label value, for creating metric handles up front.
    public static let allLabels: [String] = [
        "consistent", "mismatch", "missing_stamp", "unknown_subject", "store_unavailable", "preference_update",
    ]
}
