/// What consentgate does with one event.
public enum ConsentAction: String, Sendable, Hashable, CaseIterable {
    /// Forward the event unchanged.
    case forward
    /// Leave the event out of the forwarded request (the client still gets 200).
    case drop
    /// Replace the event's `categoryPreferences` with the store's truth, then forward it.
    case restamp
    /// Refuse the whole request with 503 and `Retry-After`; nothing of it is forwarded.
    case reject

    /// The action's metric label value (its raw value).
    public var label: String { rawValue }
}

/// The operator's `policy:` configuration: how verdicts become actions.
///
/// The defaults fail closed: enforce, compare exactly, drop mismatches, missing stamps and unknown
/// subjects, and reject the request (503) while the store is unavailable.
public struct ConsentPolicy: Sendable, Hashable {
    /// `policy.mode`.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Apply the decided actions.
        case enforce
        /// Decide, count and audit, but forward everything unchanged.
        case shadow
    }

    /// `policy.compare`.
    public enum Compare: String, Sendable, Hashable, CaseIterable {
        /// Any difference between stamp and truth is a mismatch.
        case exact
        /// Only over-grants (the stamp grants what the truth denies) are a mismatch.
        case noOvergrant = "no_overgrant"
    }

    /// `policy.on_mismatch`.
    public enum OnMismatch: String, Sendable, Hashable, CaseIterable {
        /// Drop the event.
        case drop
        /// Replace the stamp with the truth and forward the event.
        case restamp
    }

    /// `policy.on_missing_stamp`.
    public enum OnMissingStamp: String, Sendable, Hashable, CaseIterable {
        /// Drop the event (no truth needed).
        case drop
        /// Stamp the event with the truth (needs the truth) and forward it.
        case restamp
        /// Forward the event unstamped (no truth needed): Segment then enforces nothing for it.
        case forward
    }

    /// `policy.on_unknown_subject`.
    public enum OnUnknownSubject: String, Sendable, Hashable, CaseIterable {
        /// Drop the event.
        case drop
        /// Forward the event unchanged, trusting its stamp.
        case forward
    }

    /// `policy.on_store_unavailable`.
    public enum OnStoreUnavailable: String, Sendable, Hashable, CaseIterable {
        /// 503 with `Retry-After` for the whole request; nothing of it is forwarded.
        case reject
        /// Drop the events whose consent could not be verified; forward the rest.
        case drop
    }

    /// `policy.preference_updates`: how a `Segment Consent Preference Updated` event is decided.
    public enum PreferenceUpdates: String, Sendable, Hashable, CaseIterable {
        /// Its stamp is checked against the subject's truth read afresh from the store: a stamp that
        /// grants what the truth denies is a mismatch (a receiver may store it as the subject's consent);
        /// one that grants less passes (a withdrawal on its way to the store).
        case noOvergrant = "no_overgrant"
        /// Forward it whatever it carries (before 0.x, the only behaviour).
        case pass
    }

    /// The categories denied for every event of a request with `Sec-GPC: 1`.
    public static let defaultGPCCategories = ["Advertising", "DataSharing"]

    /// `policy.mode` (default `enforce`).
    public var mode: Mode
    /// `policy.compare` (default `exact`).
    public var compare: Compare
    /// `policy.on_mismatch` (default `drop`).
    public var onMismatch: OnMismatch
    /// `policy.on_missing_stamp` (default `drop`).
    public var onMissingStamp: OnMissingStamp
    /// `policy.on_unknown_subject` (default `drop`).
    public var onUnknownSubject: OnUnknownSubject
    /// `policy.on_store_unavailable` (default `reject`).
    public var onStoreUnavailable: OnStoreUnavailable
    /// `policy.gpc_categories`: denied for every event of a request with `Sec-GPC: 1`,
    /// whatever the store says. Category ids are case-sensitive.
    public var gpcCategories: [String]
    /// `policy.preference_updates` (default `no_overgrant`).
    public var preferenceUpdates: PreferenceUpdates

    /// A policy; every setting defaults to the fail-closed choice.
    public init(
        mode: Mode = .enforce,
        compare: Compare = .exact,
        onMismatch: OnMismatch = .drop,
        onMissingStamp: OnMissingStamp = .drop,
        onUnknownSubject: OnUnknownSubject = .drop,
        onStoreUnavailable: OnStoreUnavailable = .reject,
        gpcCategories: [String] = ConsentPolicy.defaultGPCCategories,
        preferenceUpdates: PreferenceUpdates = .noOvergrant
    ) {
        self.preferenceUpdates = preferenceUpdates
        self.mode = mode
        self.compare = compare
        self.onMismatch = onMismatch
        self.onMissingStamp = onMissingStamp
        self.onUnknownSubject = onUnknownSubject
        self.onStoreUnavailable = onStoreUnavailable
        self.gpcCategories = gpcCategories
    }

    /// The action the policy decides for a verdict, before the mode applies.
    ///
    /// `consistent` and `preference_update` forward. (The verdict engine may still downgrade a
    /// `restamp` to `drop` when only a stale record is at hand; see ``VerdictEngine``.)
    public func decidedAction(for verdict: Verdict) -> ConsentAction {
        switch verdict {
        case .consistent, .preferenceUpdate:
            .forward
        case .mismatch:
            switch onMismatch {
            case .drop: .drop
            case .restamp: .restamp
            }
        case .missingStamp:
            switch onMissingStamp {
            case .drop: .drop
            case .restamp: .restamp
            case .forward: .forward
            }
        case .unknownSubject:
            switch onUnknownSubject {
            case .drop: .drop
            case .forward: .forward
            }
        case .storeUnavailable:
            switch onStoreUnavailable {
            case .reject: .reject
            case .drop: .drop
            }
        }
    }

    /// The action actually taken for a decided action: itself in enforce mode, always `forward` in
    /// shadow mode (the event goes upstream unchanged).
    public func effectiveAction(for decided: ConsentAction) -> ConsentAction {
        switch mode {
        case .enforce: decided
        case .shadow: .forward
        }
    }

    /// The decided action (what enforce mode would do, counted and audited in both modes) and the
    /// effective one (what is done).
    public func actions(for verdict: Verdict) -> (decided: ConsentAction, effective: ConsentAction) {
        let decided = decidedAction(for: verdict)
        return (decided, effectiveAction(for: decided))
    }

    /// Whether an event needs the subject's truth from the cache or store to be decided.
    ///
    /// A preference-update event does not under `preference_updates: pass`; an event without a stamp
    /// does only when the policy restamps missing stamps. Callers may skip the lookup otherwise (and
    /// pass any outcome).
    public func needsTruth(hasStamp: Bool, isPreferenceUpdate: Bool) -> Bool {
        if isPreferenceUpdate && preferenceUpdates == .pass { return false }
        return hasStamp || onMissingStamp == .restamp
    }

    /// Whether a category is denied by `Sec-GPC: 1`.
    public func isGPCCategory(_ category: some StringProtocol) -> Bool {
        gpcCategories.contains { $0 == category }
    }
}
