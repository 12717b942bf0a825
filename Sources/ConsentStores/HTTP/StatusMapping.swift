import ConsentCore
public import SegmentWire

/// How a consent service's per-category values become granted or denied
/// (`store.http.status_mapping.granted` / `.denied`).
///
/// A boolean is taken as is, and `null` as denied. A string is looked up, ignoring case, in
/// ``granted`` and ``denied``; a string in neither list is denied (fail closed: a status the operator
/// did not foresee never grants) and reported through ``Reading/unmappedStatuses``. With both lists
/// empty, strings are an error: the service needs a mapping. Numbers, arrays and objects are errors.
///
/// OneTrust's purpose statuses, for example: ``oneTrust``.
public struct StatusMapping: Sendable, Hashable {
    /// Why a mapping cannot be used.
    public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// Why a preferences object cannot be read. Never quotes a value.
    public struct ReadError: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The preferences read from one object.
    public struct Reading: Sendable, Hashable {
        public var preferences: [CategoryPreference]
        /// Status strings found in neither list (read as denied), for a warning.
        public var unmappedStatuses: Set<String>
    }

    /// Statuses that grant, upper-cased.
    public let granted: Set<String>
    /// Statuses that deny, upper-cased.
    public let denied: Set<String>

    /// No strings accepted: the service answers booleans.
    public static let booleansOnly = StatusMapping(checkedGranted: [], denied: [])

    /// OneTrust's purpose statuses: `ACTIVE` and `ALWAYS_ACTIVE` grant; `OPT_OUT`, `HARD_OPT_OUT`,
    /// `WITHDRAWN`, `EXPIRED`, `NO_CONSENT` and `PENDING` deny.
    public static let oneTrust = StatusMapping(
        checkedGranted: ["ACTIVE", "ALWAYS_ACTIVE"],
        denied: ["OPT_OUT", "HARD_OPT_OUT", "WITHDRAWN", "EXPIRED", "NO_CONSENT", "PENDING"])

    /// - Throws: ``ConfigurationError`` when a status is in both lists or is empty.
    public init(granted: [String], denied: [String]) throws(ConfigurationError) {
        let grantedSet = Set(granted.map { $0.uppercased() })
        let deniedSet = Set(denied.map { $0.uppercased() })
        if let both = grantedSet.intersection(deniedSet).sorted().first {
            throw ConfigurationError(reason: "the status '\(both)' is both granted and denied")
        }
        if grantedSet.contains("") || deniedSet.contains("") {
            throw ConfigurationError(reason: "a status is empty")
        }
        self.init(checkedGranted: grantedSet, denied: deniedSet)
    }

    private init(checkedGranted granted: Set<String>, denied: Set<String>) {
        self.granted = granted
        self.denied = denied
    }

    /// Whether status strings are accepted at all.
    public var mapsStrings: Bool { !granted.isEmpty || !denied.isEmpty }

    /// Reads a preferences object: category → boolean, status string or `null` (today's flat shape).
    public func read(_ value: JSONValue) throws(ReadError) -> Reading {
        try read(value, layout: .flat)
    }

    /// Reads the preferences in `layout`'s shape: an object of category → value, or an array of items
    /// each holding a category id and its value (see ``PreferencesLayout``). A category named twice is
    /// granted only if every mention grants it.
    public func read(_ value: JSONValue, layout: PreferencesLayout) throws(ReadError) -> Reading {
        let entries = try layout.entries(of: value)
        var granted: [String: Bool] = [:]
        granted.reserveCapacity(entries.count)
        var unmapped: Set<String> = []
        for (category, value) in entries {
            let isGranted: Bool
            switch value {
            case .bool(let flag):
                isGranted = flag
            case .null:
                isGranted = false
            case .string(let status):
                guard mapsStrings else {
                    throw ReadError(reason: "a category's value is a status string, but store.http.status_mapping is empty")
                }
                let key = status.uppercased()
                if self.granted.contains(key) {
                    isGranted = true
                } else {
                    if !denied.contains(key) { unmapped.insert(status) }
                    isGranted = false
                }
            default:
                throw ReadError(reason: "a category's value is a JSON \(value.typeName), not a boolean or status string")
            }
            granted[category] = (granted[category] ?? true) && isGranted
        }
        return Reading(
            preferences: ConsentRecord.normalized(granted.map { CategoryPreference(category: $0.key, granted: $0.value) }),
            unmappedStatuses: unmapped)
    }
}
