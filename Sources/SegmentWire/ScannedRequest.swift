/// One category of a consent stamp (`context.consent.categoryPreferences`) or of a consent record.
/// Category ids are case-sensitive.
public struct CategoryPreference: Sendable, Hashable {
    public var category: String
    public var granted: Bool

    public init(category: String, granted: Bool) {
        self.category = category
        self.granted = granted
    }
}

/// The location of a scalar JSON value inside the scanned body.
public struct ValueRef: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        case string
        case number
    }

    /// The value's raw bytes in the body; for a string, the quotes included.
    public var range: Range<Int>
    public var kind: Kind
    /// A string with backslash escapes needs decoding; one without is its bytes between the quotes.
    public var hasEscapes: Bool

    public init(range: Range<Int>, kind: Kind, hasEscapes: Bool) {
        self.range = range
        self.kind = kind
        self.hasEscapes = hasEscapes
    }
}

/// The location of a JSON object inside the scanned body.
public struct ObjectRef: Sendable, Hashable {
    /// The object's bytes, braces included.
    public var range: Range<Int>
    /// `{}` (with or without white space inside).
    public var isEmpty: Bool

    public init(range: Range<Int>, isEmpty: Bool) {
        self.range = range
        self.isEmpty = isEmpty
    }
}

/// A consent stamp: a `categoryPreferences` object whose values are all booleans.
public struct ConsentStamp: Sendable, Hashable {
    /// The `categoryPreferences` object's bytes, braces included.
    public var range: Range<Int>
    /// Indices into ``ScannedRequest/preferences``, in document order. Stamps with the same bytes
    /// may share one range.
    public var entries: Range<Int>

    public init(range: Range<Int>, entries: Range<Int>) {
        self.range = range
        self.entries = entries
    }
}

/// A `context.ip` member: where it is, so that it can be truncated or removed.
public struct AddressMember: Sendable, Hashable {
    /// The bytes that remove the member from its `context` and leave valid JSON (with one comma).
    public var member: Range<Int>
    /// The value's bytes (a string's quotes included).
    public var value: Range<Int>
    /// Whether the value is a string (an address); any other value is no address a receiver can use.
    public var isString: Bool
    /// The `context` holds a second `ip` member, or one spelled `IP`/`Ip`: receivers that fold case or
    /// keep the first or the last would read different addresses.
    public var ambiguous = false

    public init(member: Range<Int>, value: Range<Int>, isString: Bool) {
        self.member = member
        self.value = value
        self.isString = isString
    }
}

/// Why one event is not valid per Segment's spec. In a batch, an invalid event is dropped and counted
/// while the rest of the batch goes on; on a single-event route it refuses the request.
public enum EventDefect: String, Sendable, Hashable, CaseIterable {
    /// A batch item that is not a JSON object.
    case notAnObject = "not_an_object"
    /// No `type`, or a `type` that is not a known event type (batch items only).
    case unknownType = "unknown_type"
    /// Neither `userId` nor `anonymousId` (alias: `previousId` and `userId`).
    case missingIdentity = "missing_identity"
    /// An identifier (`userId`, `anonymousId`, `previousId`, `groupId`) that is not a string or a number,
    /// or a number other than a plain integer within ±2^53 (readers through a float would change it).
    case invalidIdentifier = "invalid_identifier"
    /// A `track` event without an `event` string.
    case missingEventName = "missing_event_name"
    /// A `group` event without a `groupId`.
    case missingGroupId = "missing_group_id"
    /// `context.consent.categoryPreferences` present but not an object of booleans,
    /// or `context` / `consent` present but not objects.
    case invalidConsentStamp = "invalid_consent_stamp"
    /// A key that consentgate interprets appears twice in one object (receivers disagree on which wins),
    /// or two category keys of one stamp differ only in letter case.
    case duplicateKey = "duplicate_key"
    /// A key that differs from one consentgate interprets only in letter case (`USERID`, `Type`, or
    /// with `ſ` / `K`): a receiver that folds case reads it as that key, one that does not, not.
    case ambiguousKey = "ambiguous_key"
    /// On a single-event route, a `type` member that names another type than the route.
    case typeMismatch = "type_mismatch"
}

/// One event found by the scanner, as slices of the original body.
public struct ScannedEvent: Sendable, Hashable {
    /// The event object's bytes, braces included (for a non-object batch item, the item's bytes).
    public var range: Range<Int>
    /// The event's type: its `type` field, or on a single-event route the route's type when absent.
    public var type: EventType?
    public var userId: ValueRef?
    public var anonymousId: ValueRef?
    public var messageId: ValueRef?
    /// The `event` field (a track event's name).
    public var eventName: ValueRef?
    public var groupId: ValueRef?
    public var previousId: ValueRef?
    /// The event's own `context` object.
    public var context: ObjectRef?
    /// The event's own `context.consent` object.
    public var consent: ObjectRef?
    /// The event's own `context.consent.categoryPreferences`.
    public var stamp: ConsentStamp?
    /// The event's own `context.ip`.
    public var address: AddressMember?
    /// The event's own `context.library.name` (a string): which library sent it.
    public var libraryName: ValueRef?
    /// `nil` when the event is valid.
    public var defect: EventDefect?

    public init(range: Range<Int>) {
        self.range = range
    }
}

/// A request body scanned into its envelope and events, every part a slice of the original bytes.
public struct ScannedRequest: Sendable, Hashable {
    public var route: TrackingRoute
    /// The events in document order: the batch's items, or the one event of a single-event route.
    public var events: [ScannedEvent]
    /// The entries of every consent stamp in the request; stamps index into it.
    public var preferences: [CategoryPreference]
    /// Batch route: the `batch` array, brackets included.
    public var batchArray: Range<Int>?
    /// Batch route: the top-level `context` object (Segment merges it into every item).
    public var context: ObjectRef?
    /// Batch route: the top-level `context.consent.categoryPreferences`.
    public var sharedStamp: ConsentStamp?
    /// Batch route: the bytes that remove the shared stamp's member (with one comma) from the
    /// top-level `context.consent`, leaving valid JSON.
    public var sharedStampMember: Range<Int>?
    /// Batch route: the top-level `context.ip` (Segment merges it into every item).
    public var address: AddressMember?
    /// Batch route: the top-level `context.library.name`.
    public var libraryName: ValueRef?
    /// The top-level `writeKey` (on a single-event route, the event's own).
    public var writeKey: ValueRef?
    /// The top-level `sentAt`.
    public var sentAt: ValueRef?
    /// The top-level `integrations` object.
    public var integrations: ObjectRef?

    public init(route: TrackingRoute) {
        self.route = route
        self.events = []
        self.preferences = []
    }

    /// The stamp that applies to an event when the event's own wins the merge with the batch's
    /// top-level `context`: the event's own, else the shared one.
    public func effectiveStamp(of event: ScannedEvent) -> ConsentStamp? {
        event.stamp ?? sharedStamp
    }

    /// The batch's shared stamp when it is a second stamp that may apply to an event beside the event's
    /// own: a receiver may merge the top-level `context` into the event with either winning, or merge
    /// the two stamps key by key. Both must agree with the truth. `nil` when the event has no stamp of
    /// its own (the shared one is then its ``effectiveStamp(of:)``) or the batch has none.
    public func secondStamp(of event: ScannedEvent) -> ConsentStamp? {
        event.stamp == nil ? nil : sharedStamp
    }

    /// The entries of a stamp.
    public func entries(of stamp: ConsentStamp) -> ArraySlice<CategoryPreference> {
        preferences[stamp.entries]
    }
}
