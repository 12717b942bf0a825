public import SegmentWire

/// The verdict engine's answer for one event: the verdict, the action, and what the audit log records.
public struct ConsentDecision: Sendable, Hashable {
    /// What consentgate concluded about the event's stamp.
    public var verdict: Verdict
    /// The action the policy decides (counted and audited in both modes).
    public var decided: ConsentAction
    /// The action taken: ``decided`` in enforce mode, always `forward` in shadow mode.
    public var effective: ConsentAction
    /// The version of the record the decision was made against, if a record was at hand.
    public var recordVersion: Int64?
    /// Categories the stamp grants but the truth denies, sorted.
    public var over: [String]
    /// Categories the stamp denies or omits but the truth grants, sorted (also filled when
    /// `compare: no_overgrant` ignores them and the verdict is `consistent`).
    public var under: [String]
    /// When ``decided`` is `restamp`: the stamp to write, i.e. every category of the record
    /// (with the GPC categories forced to `false` under `Sec-GPC: 1`), sorted by category.
    public var restampPreferences: [CategoryPreference]?
    /// When the decision was made against a stale record (the store had failed): how long ago that
    /// record's cache entry expired. Also set when the stale record could not serve and the verdict
    /// became `store_unavailable`.
    public var staleness: Duration?

    public init(
        verdict: Verdict,
        decided: ConsentAction,
        effective: ConsentAction,
        recordVersion: Int64? = nil,
        over: [String] = [],
        under: [String] = [],
        restampPreferences: [CategoryPreference]? = nil,
        staleness: Duration? = nil
    ) {
        self.verdict = verdict
        self.decided = decided
        self.effective = effective
        self.recordVersion = recordVersion
        self.over = over
        self.under = under
        self.restampPreferences = restampPreferences
        self.staleness = staleness
    }
}
