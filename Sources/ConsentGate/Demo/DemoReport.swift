/// What happened to one of the demo's events.
public enum DemoOutcome: Sendable, Hashable {
    /// Segment received the event exactly as the SDK stamped it.
    case forwarded
    /// Segment never saw the event.
    case dropped
    /// Segment received the event with the store's truth as its stamp; the categories it grants, sorted.
    case restamped(granted: [String])
}

/// One row of the demo's table: an event, what the gateway concluded, and what reached "Segment".
public struct DemoRow: Sendable, Hashable {
    /// The kind of stamp the row shows (`consistent`, `over-granted`, ...).
    public var name: String
    /// The made-up user who sent the event.
    public var user: String
    /// `Product Viewed`, or `page Pricing`.
    public var event: String
    /// The categories the sent stamp grants, sorted; `nil` when the event carried no stamp.
    public var stampSent: [String]?
    /// The categories the store grants the user, sorted; `nil` when the store does not know the user.
    public var truth: [String]?
    /// The gateway's verdict: from its audit log, or `consistent` / `preference_update` for an event
    /// it forwarded unchanged (those are not audited).
    public var verdict: String
    /// Categories the stamp grants and the truth denies, as audited.
    public var over: [String]
    /// Categories the truth grants and the stamp does not, as audited.
    public var under: [String]
    /// The HTTP status the SDK got for the batch.
    public var status: Int
    /// What the recording upstream received.
    public var outcome: DemoOutcome
}

/// Every row of a demo run.
public struct DemoReport: Sendable, Hashable {
    public var rows: [DemoRow]

    /// The row named `name`.
    public func row(_ name: String) -> DemoRow? {
        rows.first { $0.name == name }
    }
}
