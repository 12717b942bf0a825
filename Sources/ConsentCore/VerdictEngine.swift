public import SegmentWire

/// Decides one event: its stamp against the subject's truth, then the policy's action. Pure.
///
/// The rules, in order:
/// 1. A `Segment Consent Preference Updated` event is `preference_update` and forwarded under
///    `preference_updates: pass`. Under `no_overgrant` it goes on with the rules below, compared as
///    `compare: no_overgrant` does; when nothing is over-granted its verdict is `preference_update`.
/// 2. An event without a stamp is `missing_stamp`, decided by `on_missing_stamp` without the truth —
///    unless that is `restamp`, which needs the truth and goes on with rule 3.
/// 3. No truth: `store_unavailable` when the store failed, `unknown_subject` when it does not know
///    the subject.
/// 4. The stamp is compared with the truth over the union of their categories; a category absent
///    from either side is not granted, ids are case-sensitive. Under `Sec-GPC: 1` the policy's GPC
///    categories count as denied by the truth. `compare: exact` makes any difference a `mismatch`,
///    `no_overgrant` only over-grants.
/// 5. A stale record (the store failed; an expired cache entry remains) serves when it denies
///    something the stamp grants (an over-grant: a stale deny is always safe), or when it expired at
///    most `maxStaleGrant` ago. Past that window an over-grant's `restamp` becomes `drop` (a restamp
///    would assert the stale record's grants), and any other decision becomes `store_unavailable`.
public enum VerdictEngine {
    /// The name of the track event consent platforms send when a subject's consent changes.
    public static let preferenceUpdateEventName = "Segment Consent Preference Updated"

    /// Whether the raw (unescaped) bytes of a track event's `event` string name a preference update.
    public static func isPreferenceUpdate(eventName: some Collection<UInt8>) -> Bool {
        preferenceUpdateEventName.utf8.elementsEqual(eventName)
    }

    /// Decides one event.
    ///
    /// - Parameters:
    ///   - isPreferenceUpdate: whether the event is a `Segment Consent Preference Updated` track event.
    ///   - stamp: the entries of the event's effective stamp (its own `categoryPreferences`, else the
    ///     batch's shared one), in any order; `nil` when it has none. A repeated category counts with
    ///     its last value.
    ///   - lookup: the subject's truth. Ignored when the truth is not needed
    ///     (see ``ConsentPolicy/needsTruth(hasStamp:isPreferenceUpdate:)``).
    ///   - gpc: whether the request carried `Sec-GPC: 1`.
    ///   - policy: the operator's policy.
    ///   - maxStaleGrant: `cache.max_stale_grant_seconds`: how long after its expiry a stale record may
    ///     still vouch for grants.
    @_specialize(exported: true, where Stamp == ArraySlice<CategoryPreference>)
    public static func decide<Stamp: Collection<CategoryPreference>>(
        isPreferenceUpdate: Bool,
        stamp: Stamp?,
        lookup: LookupOutcome,
        gpc: Bool,
        policy: ConsentPolicy,
        maxStaleGrant: Duration
    ) -> ConsentDecision {
        if isPreferenceUpdate && policy.preferenceUpdates == .pass {
            return make(.preferenceUpdate, policy, recordVersion: lookup.record?.version)
        }
        if stamp == nil && policy.onMissingStamp != .restamp {
            return make(.missingStamp, policy, recordVersion: lookup.record?.version)
        }
        let record: ConsentRecord
        let staleness: Duration?
        switch lookup {
        case .unavailable:
            return make(.storeUnavailable, policy)
        case .unknown:
            return make(.unknownSubject, policy)
        case .fresh(let fresh):
            record = fresh
            staleness = nil
        case .stale(let stale, let expiredFor):
            record = stale
            staleness = expiredFor
        }

        let denied = gpc ? policy.gpcCategories : []
        var over: [String] = []
        var under: [String] = []
        let verdict: Verdict
        let agrees: Verdict = isPreferenceUpdate ? .preferenceUpdate : .consistent
        if let stamp, denied.isEmpty, stamp.elementsEqual(record.preferences) {
            // The common case, cheaply: a stamp equal to the truth entry by entry (the truth is
            // sorted and has each category once, so the stamp does too) differs in nothing.
            verdict = agrees
        } else if let stamp {
            if isStrictlySorted(stamp) {
                compare(sortedStamp: stamp, truth: record.preferences, denied: denied, over: &over, under: &under)
            } else {
                let sorted = ConsentRecord.normalized(stamp)
                compare(sortedStamp: sorted, truth: record.preferences, denied: denied, over: &over, under: &under)
            }
            // A preference update may grant less than the truth: the withdrawal is on its way to the store.
            let differs =
                switch isPreferenceUpdate ? .noOvergrant : policy.compare {
                case .exact: !over.isEmpty || !under.isEmpty
                case .noOvergrant: !over.isEmpty
                }
            verdict = differs ? .mismatch(over: over, under: under) : agrees
        } else {
            verdict = .missingStamp
        }

        var decided = policy.decidedAction(for: verdict)
        if let staleness, staleness > maxStaleGrant {
            if over.isEmpty {
                // Past the grant window, a stale record may only deny.
                return make(.storeUnavailable, policy, recordVersion: record.version, staleness: staleness)
            }
            if decided == .restamp { decided = .drop }
        }
        return ConsentDecision(
            verdict: verdict,
            decided: decided,
            effective: policy.effectiveAction(for: decided),
            recordVersion: record.version,
            over: over,
            under: under,
            restampPreferences: decided == .restamp ? restampPreferences(record, gpc: gpc, policy: policy) : nil,
            staleness: staleness
        )
    }

    /// Decides one event that two stamps may reach: its own and the batch's shared one (see
    /// ``ScannedRequest/secondStamp(of:)``). A receiver may apply either, or merge them key by key;
    /// every such reading agrees with the truth exactly when both stamps do, so the event is decided
    /// against each and the worse decision stands (a mismatch's categories are the union of both).
    @_specialize(exported: true, where Stamp == ArraySlice<CategoryPreference>)
    public static func decide<Stamp: Collection<CategoryPreference>>(
        isPreferenceUpdate: Bool,
        stamp: Stamp?,
        secondStamp: Stamp?,
        lookup: LookupOutcome,
        gpc: Bool,
        policy: ConsentPolicy,
        maxStaleGrant: Duration
    ) -> ConsentDecision {
        let first = decide(
            isPreferenceUpdate: isPreferenceUpdate, stamp: stamp, lookup: lookup, gpc: gpc, policy: policy, maxStaleGrant: maxStaleGrant)
        guard let secondStamp else { return first }
        let second = decide(
            isPreferenceUpdate: isPreferenceUpdate, stamp: secondStamp, lookup: lookup, gpc: gpc, policy: policy,
            maxStaleGrant: maxStaleGrant)
        return worse(first, second, policy: policy)
    }

    /// Of two decisions for one event against one truth, the one that lets less through.
    static func worse(_ a: ConsentDecision, _ b: ConsentDecision, policy: ConsentPolicy) -> ConsentDecision {
        func rank(_ d: ConsentDecision) -> Int {
            switch d.verdict {
            case .mismatch: 2
            case .consistent, .preferenceUpdate: 0
            default: 1
            }
        }
        guard rank(a) == 2, rank(b) == 2 else { return rank(b) > rank(a) ? b : a }
        var merged = a
        merged.over = Array(Set(a.over).union(b.over)).sorted()
        merged.under = Array(Set(a.under).union(b.under)).sorted()
        merged.verdict = .mismatch(over: merged.over, under: merged.under)
        if b.decided == .drop { merged.decided = .drop }
        merged.effective = policy.effectiveAction(for: merged.decided)
        if merged.decided != .restamp { merged.restampPreferences = nil }
        return merged
    }

    /// Decides one event with a stamp against a fresh record, both known by the categories they grant
    /// as masks over one ``CategoryIDs``, without comparing a name: when the masks are equal the stamp
    /// grants exactly what the truth grants (an absent category counts as not granted on both sides),
    /// so the verdict is `consistent`. Returns what ``decide(isPreferenceUpdate:stamp:lookup:gpc:policy:maxStaleGrant:)``
    /// returns then; `nil` when the masks differ or `Sec-GPC: 1` denies categories, for the caller to
    /// decide by name (a mismatch names its categories).
    @inline(__always)
    public static func decide(stampGrants: UInt64, truthGrants: UInt64, version: Int64, gpc: Bool, policy: ConsentPolicy) -> ConsentDecision? {
        guard stampGrants == truthGrants, !gpc || policy.gpcCategories.isEmpty else { return nil }
        let (decided, effective) = policy.actions(for: .consistent)
        return ConsentDecision(verdict: .consistent, decided: decided, effective: effective, recordVersion: version)
    }

    /// Decides one event; this overload lets a missing stamp be written as `nil`.
    public static func decide(
        isPreferenceUpdate: Bool,
        stamp: [CategoryPreference]?,
        lookup: LookupOutcome,
        gpc: Bool,
        policy: ConsentPolicy,
        maxStaleGrant: Duration
    ) -> ConsentDecision {
        decide(
            isPreferenceUpdate: isPreferenceUpdate,
            stamp: stamp.map { $0[...] },
            lookup: lookup,
            gpc: gpc,
            policy: policy,
            maxStaleGrant: maxStaleGrant
        )
    }

    /// The stamp a restamp writes: every category the record knows, with the GPC categories forced to
    /// `false` (and added when the record lacks them) under `Sec-GPC: 1`; sorted by category.
    public static func restampPreferences(_ record: ConsentRecord, gpc: Bool, policy: ConsentPolicy) -> [CategoryPreference] {
        guard gpc, !policy.gpcCategories.isEmpty else { return record.preferences }
        var preferences = record.preferences
        for index in preferences.indices where preferences[index].granted && policy.isGPCCategory(preferences[index].category) {
            preferences[index].granted = false
        }
        var added = false
        for category in policy.gpcCategories where !preferences.contains(where: { $0.category == category }) {
            preferences.append(CategoryPreference(category: category, granted: false))
            added = true
        }
        if added { preferences = ConsentRecord.normalized(preferences) }
        return preferences
    }

    private static func make(
        _ verdict: Verdict,
        _ policy: ConsentPolicy,
        recordVersion: Int64? = nil,
        staleness: Duration? = nil
    ) -> ConsentDecision {
        let (decided, effective) = policy.actions(for: verdict)
        return ConsentDecision(
            verdict: verdict, decided: decided, effective: effective, recordVersion: recordVersion, staleness: staleness
        )
    }

    private static func isStrictlySorted(_ stamp: some Collection<CategoryPreference>) -> Bool {
        var previous: String?
        for entry in stamp {
            if let previous, !(previous < entry.category) { return false }
            previous = entry.category
        }
        return true
    }

    /// Walks two category lists sorted by category, each category at most once, collecting the
    /// over-grants (stamp grants, truth denies) and under-grants (stamp denies, truth grants).
    private static func compare(
        sortedStamp stamp: some Collection<CategoryPreference>,
        truth: [CategoryPreference],
        denied: [String],
        over: inout [String],
        under: inout [String]
    ) {
        var s = stamp.startIndex
        var t = truth.startIndex
        while s != stamp.endIndex || t != truth.endIndex {
            let stampGrants: Bool
            let truthGrants: Bool
            let category: String
            if t == truth.endIndex || (s != stamp.endIndex && stamp[s].category < truth[t].category) {
                category = stamp[s].category
                stampGrants = stamp[s].granted
                truthGrants = false
                stamp.formIndex(after: &s)
            } else if s == stamp.endIndex || truth[t].category < stamp[s].category {
                category = truth[t].category
                stampGrants = false
                truthGrants = truth[t].granted && !denied.contains(category)
                t += 1
            } else {
                category = truth[t].category
                stampGrants = stamp[s].granted
                truthGrants = truth[t].granted && !denied.contains(category)
                stamp.formIndex(after: &s)
                t += 1
            }
            if stampGrants && !truthGrants {
                over.append(category)
            } else if !stampGrants && truthGrants {
                under.append(category)
            }
        }
    }
}
