/// Where a consent service's answer keeps each category's id and value (`store.http.item.key` and
/// `store.http.item.value`), so that a CMP's own answer is read without a translation service.
///
/// At `store.http.preferences_pointer` the answer holds either
/// - an **object**: each member name is a category id, and ``itemValue`` points, inside the member's
///   value, to the boolean or status (Ketch: `{"analytics": {"allowed": "true"}}` with `/allowed`); or
/// - an **array**: ``itemKey`` points, inside each item, to the category id, and ``itemValue`` to its
///   boolean or status (OneTrust: `[{"Id": "…", "Status": "ACTIVE"}]`; Didomi: `[{"id": "…", "enabled": true}]`).
///
/// ``itemValue`` `""` is the value itself: today's flat object of category → boolean or status.
/// A value missing at ``itemValue`` is read as `null` (denied). Pure: no I/O.
public struct PreferencesLayout: Sendable, Hashable {
    /// `store.http.item.key`: required when the preferences are an array; unused for an object.
    public var itemKey: JSONPointer?
    /// `store.http.item.value`: inside each item or member value; `.root` is the value itself.
    public var itemValue: JSONPointer

    /// Today's shape: an object of category → boolean or status.
    public static let flat = PreferencesLayout(itemKey: nil, itemValue: .root)

    public init(itemKey: JSONPointer?, itemValue: JSONPointer) {
        self.itemKey = itemKey
        self.itemValue = itemValue
    }

    /// The (category id, value) pairs of `preferences`, in the answer's order. Never quotes a value.
    public func entries(of preferences: JSONValue) throws(StatusMapping.ReadError) -> [(category: String, value: JSONValue)] {
        switch preferences {
        case .object(let members):
            return members.map { (category: $0.key, value: itemValue.resolve(in: $0.value) ?? .null) }
        case .array(let items):
            guard let itemKey else {
                throw StatusMapping.ReadError(
                    reason: "the preferences are a JSON array, but store.http.item.key (the category id's pointer inside each item) is not set")
            }
            var entries: [(category: String, value: JSONValue)] = []
            entries.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                guard let key = itemKey.resolve(in: item) else {
                    throw StatusMapping.ReadError(reason: "preferences item \(index) has nothing at store.http.item.key '\(itemKey)'")
                }
                guard case .string(let category) = key, !category.isEmpty else {
                    throw StatusMapping.ReadError(
                        reason: "preferences item \(index) has a JSON \(key.typeName) at store.http.item.key, not a non-empty string")
                }
                entries.append((category: category, value: itemValue.resolve(in: item) ?? .null))
            }
            return entries
        default:
            throw StatusMapping.ReadError(reason: "the preferences are a JSON \(preferences.typeName), not an object or an array")
        }
    }
}
