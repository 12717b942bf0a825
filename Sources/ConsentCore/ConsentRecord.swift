import FoundationEssentials
public import SegmentWire

/// The true, current consent of one subject, as the store of record holds it.
///
/// Category ids are case-sensitive. As in Segment, a category absent from ``preferences`` is not granted.
public struct ConsentRecord: Sendable, Hashable {
    /// The subject: a `userId` or an `anonymousId`.
    public var subject: String
    /// The categories the store knows for the subject, sorted by category id, each at most once.
    public private(set) var preferences: [CategoryPreference]
    /// Bumped on every write; lets audit records name the truth they were decided against.
    public var version: Int64
    /// When the record was last written.
    public var updatedAt: Date

    public init(subject: String, preferences: some Sequence<CategoryPreference>, version: Int64, updatedAt: Date) {
        self.subject = subject
        self.preferences = ConsentRecord.normalized(preferences)
        self.version = version
        self.updatedAt = updatedAt
    }

    /// Whether the record grants a category; absent categories are not granted.
    public func isGranted(_ category: some StringProtocol) -> Bool {
        preferences.first { $0.category == category }?.granted ?? false
    }

    /// Sorts by category and keeps the last value of a repeated category.
    public static func normalized(_ preferences: some Sequence<CategoryPreference>) -> [CategoryPreference] {
        var byCategory: [String: Bool] = [:]
        for preference in preferences { byCategory[preference.category] = preference.granted }
        return byCategory.map { CategoryPreference(category: $0.key, granted: $0.value) }
            .sorted { $0.category < $1.category }
    }
}

extension ConsentRecord {
    /// A record whose preferences are already normalized (sorted by category, each once): the cache
    /// rebuilds records from its slots without sorting again.
    init(subject: String, normalizedPreferences: [CategoryPreference], version: Int64, updatedAt: Date) {
        self.subject = subject
        self.preferences = normalizedPreferences
        self.version = version
        self.updatedAt = updatedAt
    }

    /// Replaces ``preferences`` with an equal array, so that many records can share one copy
    /// (the cache interns the few distinct preference sets its records have).
    mutating func sharePreferences(_ equal: [CategoryPreference]) {
        assert(equal == preferences, "only an equal array may replace a record's preferences")
        preferences = equal
    }
}
