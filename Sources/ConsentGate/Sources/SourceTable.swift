/// Which source a request belongs to, by its write key: a pure map built once at start.
///
/// A write key listed in a source takes that source; any other write key (one in `ingress.write_keys`
/// only, or any key at all when no allowlist is set) takes the default entry, which carries the top-level
/// settings under ``GatewayConfiguration/Source/defaultName``. `Route` is whatever varies per source at run
/// time (its `ConsentEnforcer`, its forwarder); the table itself knows nothing of them, so the request
/// path never branches on a source and this type is tested without sockets.
///
/// The allowlist is the union of `ingress.write_keys` and every source's keys; when that union is empty
/// every write key is allowed, as before sources existed.
struct SourceTable<Route: Sendable>: Sendable {
    /// One source as the request path sees it.
    struct Entry: Sendable {
        /// The metric label and audit/debugger name; never the write key.
        let name: String
        let route: Route
    }

    /// Why a table cannot be built (configuration loading reports the same cases with their keys first).
    struct BuildError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The two sources that list one write key (never the key itself).
        var sources: [String]
        var description: String { "a write key is listed by both source '\(sources[0])' and source '\(sources[1])'" }
    }

    /// The entry of write keys in no source.
    let defaultEntry: Entry
    /// Every named source, in configuration order.
    let entries: [Entry]
    /// Every allowed write key → its slot in ``allEntries`` (0, the default entry, for a key of
    /// `ingress.write_keys` only): the allowlist and the selection in one lookup.
    private let slotByKey: [String: Int]
    /// Every entry, the default first (what ``slotByKey`` indexes).
    let allEntries: [Entry]

    /// - Parameters:
    ///   - defaultEntry: the top-level settings.
    ///   - sources: each source's name, write keys and route.
    ///   - extraAllowed: write keys allowed without a source of their own (`ingress.write_keys`).
    init(
        defaultEntry: Entry, sources: [(name: String, writeKeys: [String], route: Route)], extraAllowed: [String] = []
    ) throws(BuildError) {
        var indexByKey: [String: Int] = [:]
        var entries: [Entry] = []
        for (index, source) in sources.enumerated() {
            for key in source.writeKeys {
                if let owner = indexByKey[key], owner != index {
                    throw BuildError(sources: [sources[owner].name, source.name])
                }
                indexByKey[key] = index
            }
            entries.append(Entry(name: source.name, route: source.route))
        }
        var slotByKey = Dictionary(extraAllowed.map { ($0, 0) }, uniquingKeysWith: { first, _ in first })
        for (key, index) in indexByKey { slotByKey[key] = index + 1 }
        self.defaultEntry = defaultEntry
        self.entries = entries
        self.slotByKey = slotByKey
        self.allEntries = [defaultEntry] + entries
    }

    /// Whether the gateway has an allowlist at all: when it has none, every request takes the default
    /// entry and its write key need not be read.
    var checksWriteKeys: Bool { !slotByKey.isEmpty }

    /// Whether a request with this write key is let through (`nil`: the request named none).
    func isAllowed(writeKey: String?) -> Bool {
        guard checksWriteKeys else { return true }
        guard let writeKey else { return false }
        return slotByKey[writeKey] != nil
    }

    /// The source of a write key; the default entry for a key in no source or no key at all.
    func select(writeKey: String?) -> Entry {
        guard let writeKey, let slot = slotByKey[writeKey] else { return defaultEntry }
        return allEntries[slot]
    }

    /// The entry of an allowed write key, `nil` for a key not on the allowlist: ``isAllowed(writeKey:)``
    /// and ``select(writeKey:)`` in one dictionary lookup, for the request path (which asks only when
    /// ``checksWriteKeys``).
    func allowedEntry(writeKey: String) -> Entry? {
        guard let slot = slotByKey[writeKey] else { return nil }
        return allEntries[slot]
    }
}

extension SourceTable {
    /// The table of a configuration; `route` builds each source's run-time parts once (the default
    /// source first), from its effective settings.
    init(_ configuration: GatewayConfiguration, route: (GatewayConfiguration.Source) throws -> Route) throws {
        let defaultSource = configuration.defaultSource
        try self.init(
            defaultEntry: Entry(name: defaultSource.name, route: try route(defaultSource)),
            sources: try configuration.sources.map { (name: $0.name, writeKeys: $0.writeKeys, route: try route($0)) },
            extraAllowed: configuration.ingress.writeKeys)
    }
}
