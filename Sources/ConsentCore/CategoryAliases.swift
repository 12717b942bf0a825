public import SegmentWire

/// `store.category_aliases`: the store's category ids → the names the stamps on events use
/// (`C0002` → `Analytics`), applied to every record a store answers before the cache holds it.
///
/// A category without an alias keeps its id. When several ids reach one name (two store ids with one
/// alias, or an alias equal to an id the record also holds) they combine with AND: the name is granted
/// only if every one of them is granted, so an alias never turns a denial into a grant. Pure: no I/O.
public struct CategoryAliases: Sendable, Hashable {
    /// Store id → stamp name.
    public let names: [String: String]

    /// No aliases: records pass unchanged.
    public static let none = CategoryAliases([:])

    public init(_ names: [String: String]) {
        self.names = names
    }

    public var isEmpty: Bool { names.isEmpty }

    /// The preferences under the stamps' names.
    public func apply(_ preferences: [CategoryPreference]) -> [CategoryPreference] {
        guard !names.isEmpty else { return preferences }
        var granted: [String: Bool] = [:]
        for preference in preferences {
            let name = names[preference.category] ?? preference.category
            granted[name] = (granted[name] ?? true) && preference.granted
        }
        return ConsentRecord.normalized(granted.map { CategoryPreference(category: $0.key, granted: $0.value) })
    }

    /// The record under the stamps' names; subject, version and time unchanged.
    public func apply(_ record: ConsentRecord) -> ConsentRecord {
        guard !names.isEmpty else { return record }
        return ConsentRecord(subject: record.subject, preferences: apply(record.preferences), version: record.version, updatedAt: record.updatedAt)
    }
}

/// A store whose records come out under the stamps' category names (``CategoryAliases``): the store the
/// resolver and its cache read. The consent API and the import keep the store itself, so they accept and
/// show the store's own ids.
public struct AliasedConsentStore: ConsentStore {
    public let base: any ConsentStore
    public let aliases: CategoryAliases

    public init(base: any ConsentStore, aliases: CategoryAliases) {
        self.base = base
        self.aliases = aliases
    }

    public var kind: String { base.kind }
    public var maxConcurrentLookups: Int { base.maxConcurrentLookups }

    public func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        try await base.lookup(subject: subject).map { (record: ConsentRecord) in aliases.apply(record) }
    }

    public func ping() async throws(ConsentStoreError) { try await base.ping() }
    public func close() async { await base.close() }
}
