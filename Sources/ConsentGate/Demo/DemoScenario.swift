/// The demo's made-up users and the batches it posts: one per kind of stamp the gateway meets.
///
/// Two categories keep the table narrow; the defaults of `config/consentgate.yaml` decide
/// (`compare: exact`, `on_mismatch: drop`, `on_missing_stamp: restamp`, `on_unknown_subject: drop`).
enum DemoScenario {
    /// A subject's consent, written through the consent API before any event is posted.
    struct Seed: Sendable {
        var user: String
        var preferences: [String: Bool]
    }

    /// One batch of one event.
    struct Case: Sendable {
        /// The row's name in the table.
        var name: String
        var user: String
        /// `track` or `page`.
        var type: String
        /// The track event's name, or the page's name.
        var event: String
        /// The `context.consent.categoryPreferences` sent; `nil` sends no consent at all.
        var stamp: [String: Bool]?
        /// Ties the event to its audit record and to what reached Segment.
        var messageId: String
    }

    static let seeds: [Seed] = [
        Seed(user: "alice", preferences: ["Advertising": false, "Analytics": true]),
        Seed(user: "bob", preferences: ["Advertising": true, "Analytics": true]),
        Seed(user: "carol", preferences: ["Advertising": false, "Analytics": false]),
    ]

    static let cases: [Case] = [
        Case(
            name: "consistent", user: "alice", type: "track", event: "Product Viewed",
            stamp: ["Advertising": false, "Analytics": true], messageId: "demo-consistent"),
        Case(
            name: "over-granted", user: "carol", type: "track", event: "Order Completed",
            stamp: ["Advertising": true, "Analytics": false], messageId: "demo-over-granted"),
        Case(
            name: "under-granted", user: "bob", type: "track", event: "Checkout Started",
            stamp: ["Advertising": false, "Analytics": true], messageId: "demo-under-granted"),
        Case(name: "unstamped", user: "alice", type: "page", event: "Pricing", stamp: nil, messageId: "demo-unstamped"),
        Case(
            name: "unknown user", user: "dave", type: "track", event: "Signed Up",
            stamp: ["Advertising": true, "Analytics": true], messageId: "demo-unknown-user"),
        Case(
            // bob withdraws Advertising: a preference update may grant less than the store (the
            // withdrawal is on its way there), never more.
            name: "consent change", user: "bob", type: "track", event: "Segment Consent Preference Updated",
            stamp: ["Advertising": false, "Analytics": true], messageId: "demo-consent-change"),
    ]

    /// The event name of a consent change: it refreshes the cache and may not grant more than the store.
    static let preferenceUpdated = "Segment Consent Preference Updated"
}
