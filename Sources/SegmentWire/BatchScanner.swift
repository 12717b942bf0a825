/// Validates a tracking request body as JSON in one pass and locates, as slices of the original bytes,
/// each event and the few fields consentgate interprets.
///
/// The whole document is validated per RFC 8259 (UTF-8, escapes, numbers, literals, nesting depth),
/// iteratively, so hostile nesting costs no call stack. Only these members are interpreted:
/// - the envelope: `batch`, `context` (and its `consent.categoryPreferences`), `writeKey`, `sentAt`,
///   `integrations`;
/// - each event's top-level `type`, `userId`, `anonymousId`, `previousId`, `groupId`, `messageId`,
///   `event`, `context`, and inside it `consent` and `consent.categoryPreferences`.
///
/// An interpreted key that appears twice in one object makes the event invalid (``EventDefect/duplicateKey``)
/// or, in the batch envelope, the request (``WireError/Code/invalidBatch``): receivers disagree on which
/// copy wins, so consentgate must never verify one and forward the other. Keys are compared after
/// decoding their escapes (`"user\u0049d"` is `userId`); category keys of one stamp are compared as
/// Swift strings, so two canonically equivalent spellings are also a duplicate.
///
/// An identifier (`userId`, `anonymousId`, `previousId`, `groupId`) that is `null` or `""` is reported
/// as absent (`nil`). On a single-event route a known `type` member wins over the route's type.
public struct BatchScanner: Sendable {
    public var limits: WireLimits

    public init(limits: WireLimits = .init()) {
        self.limits = limits
    }

    /// Scans a decompressed request body.
    ///
    /// - Parameters:
    ///   - body: the decompressed body; the returned ranges index into it.
    ///   - route: the route it was posted to: a batch body is `{"batch": [...], ...}`, a single-event
    ///     body is the event itself.
    /// - Returns: the request's envelope and events. An invalid batch item only gets its
    ///   ``ScannedEvent/defect`` set; the scan still succeeds.
    /// - Throws: ``WireError`` with `.batchTooLarge` / `.eventTooLarge` / `.tooManyEvents` for limits,
    ///   `.invalidJSON` / `.nestingTooDeep` for the document, `.invalidBatch` for a top level that is not
    ///   an object or a malformed batch envelope, `.invalidEvent` for an invalid single event.
    ///   A document that is not valid JSON is reported as such before any envelope problem.
    public func scan(_ body: UnsafeRawBufferPointer, route: TrackingRoute) throws(WireError) -> ScannedRequest {
        let maxBytes = route.maxBodyBytes(limits)
        guard body.count <= maxBytes else {
            switch route {
            case .batch: throw WireError(.batchTooLarge, "batch body is larger than \(maxBytes) bytes")
            case .single: throw WireError(.eventTooLarge, "event body is larger than \(maxBytes) bytes")
            }
        }
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self), body.count > 0 else {
            throw WireError(.invalidJSON, "empty body")
        }
        let words = JSONCursor.kindWords(count: body.count, maxDepth: limits.maxDepth)
        return try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) {
            (kinds) throws(WireError) -> ScannedRequest in
            guard let kindsBase = kinds.baseAddress else { throw WireError(.invalidJSON, "empty body") }
            kinds.initialize(repeating: 0)
            // The stamp cache lives on the stack too: a scan allocates nothing for it.
            return try withUnsafeTemporaryAllocation(of: CachedStamp.self, capacity: RequestScanner.stampCacheSize) {
                (stamps) throws(WireError) -> ScannedRequest in
                var scanner = RequestScanner(
                    cursor: JSONCursor(base: base, count: body.count, maxDepth: limits.maxDepth, kinds: kindsBase),
                    body: body,
                    limits: limits,
                    request: ScannedRequest(route: route),
                    stampCache: stamps
                )
                try scanner.scanDocument()
                return scanner.request
            }
        }
    }

    /// Validates `body` as one JSON document (any value at the top level, RFC 8259) with nesting
    /// at most `maxDepth` deep.
    /// - Throws: ``WireError`` `.invalidJSON` or `.nestingTooDeep`.
    public static func validate(_ body: UnsafeRawBufferPointer, maxDepth: Int) throws(WireError) {
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self), body.count > 0 else {
            throw WireError(.invalidJSON, "empty body")
        }
        let words = JSONCursor.kindWords(count: body.count, maxDepth: maxDepth)
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { (kinds) throws(WireError) in
            guard let kindsBase = kinds.baseAddress else { throw WireError(.invalidJSON, "empty body") }
            kinds.initialize(repeating: 0)
            var cursor = JSONCursor(base: base, count: body.count, maxDepth: maxDepth, kinds: kindsBase)
            guard cursor.peekToken() != nil else { throw WireError(.invalidJSON, "empty document") }
            try cursor.skipValue(depth: 0)
            if cursor.peekToken() != nil {
                throw cursor.invalid("unexpected data after the top-level value", at: cursor.pos)
            }
        }
    }
}

/// A member key consentgate interprets somewhere; `other` for all the rest.
enum MemberKey: UInt8 {
    case other, type, userId, anonymousId, previousId, groupId, messageId, event, context, consent
    case categoryPreferences, batch, writeKey, sentAt, integrations
    /// Inside a `context`: the client's address and the sending library (whose `name` is read).
    case ip, library, name

    var bit: UInt32 { 1 << UInt32(rawValue) }
    var name: String { "\(self)" }

    /// The longest interpreted key (`categoryPreferences`, 19 characters) written entirely in `\u`
    /// escapes, six bytes per character (longer than the same key in folding runes, three bytes each).
    static let longestEscaped = 19 * 6

    /// The key's exact spelling.
    var spelling: StaticString {
        switch self {
        case .other: ""
        case .type: "type"
        case .userId: "userId"
        case .anonymousId: "anonymousId"
        case .previousId: "previousId"
        case .groupId: "groupId"
        case .messageId: "messageId"
        case .event: "event"
        case .context: "context"
        case .consent: "consent"
        case .categoryPreferences: "categoryPreferences"
        case .batch: "batch"
        case .writeKey: "writeKey"
        case .sentAt: "sentAt"
        case .integrations: "integrations"
        case .ip: "ip"
        case .library: "library"
        case .name: "name"
        }
    }

    /// Classifies a key's decoded ASCII bytes as a case-insensitive receiver would (``KeyFolding``);
    /// `folded` when it matched only by ignoring case.
    @inline(__always)
    static func classify(_ p: UnsafePointer<UInt8>, count: Int) -> (key: MemberKey, folded: Bool) {
        func matches(_ name: StaticString) -> Bool { KeyFolding.equalIgnoringCase(p, name) }
        let key: MemberKey
        switch count {
        case 2: key = matches("ip") ? .ip : .other
        case 4: key = matches("type") ? .type : matches("name") ? .name : .other
        case 5: key = matches("event") ? .event : matches("batch") ? .batch : .other
        case 6: key = matches("userId") ? .userId : matches("sentAt") ? .sentAt : .other
        case 7:
            key =
                matches("context") ? .context : matches("consent") ? .consent : matches("groupId") ? .groupId
                : matches("library") ? .library : .other
        case 8: key = matches("writeKey") ? .writeKey : .other
        case 9: key = matches("messageId") ? .messageId : .other
        case 10: key = matches("previousId") ? .previousId : .other
        case 11: key = matches("anonymousId") ? .anonymousId : .other
        case 12: key = matches("integrations") ? .integrations : .other
        case 19: key = matches("categoryPreferences") ? .categoryPreferences : .other
        default: key = .other
        }
        if key == .other { return (.other, false) }
        return (key, !bytesEqual(p, key.spelling))
    }

    /// Keys whose reading decides an event's subject, type, name or stamp, or the batch's shape and
    /// key: a case variant of one of them (``KeyFolding``) makes its object ambiguous. A variant of
    /// any other interpreted key is read as an uninterpreted key, as a case-sensitive receiver does.
    static var foldSensitive: UInt32 {
        type.bit | userId.bit | anonymousId.bit | event.bit | context.bit | consent.bit | categoryPreferences.bit | batch.bit
            | writeKey.bit
    }

    /// Keys interpreted on an event object.
    static var eventKeys: UInt32 {
        type.bit | userId.bit | anonymousId.bit | previousId.bit | groupId.bit | messageId.bit | event.bit | context.bit
    }
    /// Envelope keys also read from a single-event body.
    static var singleEnvelopeKeys: UInt32 { writeKey.bit | sentAt.bit | integrations.bit }
    /// Keys interpreted on a batch body's top level.
    static var batchEnvelopeKeys: UInt32 { batch.bit | context.bit | singleEnvelopeKeys }
}

/// Whether the bytes at `p` start with `name` (the caller has checked the length).
///
/// Word loads, the last one overlapping the one before: `name` is a constant, so each load of it
/// folds into an immediate and a key costs one or two compares instead of a loop over its bytes.
@inline(__always)
private func bytesEqual(_ p: UnsafePointer<UInt8>, _ name: StaticString) -> Bool {
    let key = UnsafeRawPointer(p)
    let expected = UnsafeRawPointer(name.utf8Start)
    let count = name.utf8CodeUnitCount
    func same<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> Bool {
        key.loadUnaligned(fromByteOffset: offset, as: T.self) == expected.loadUnaligned(fromByteOffset: offset, as: T.self)
    }
    if count >= 8 {
        var i = 0
        while i &+ 8 < count {
            guard same(i, UInt64.self) else { return false }
            i &+= 8
        }
        return same(count &- 8, UInt64.self)
    }
    if count >= 4 { return same(0, UInt32.self) && same(count &- 4, UInt32.self) }
    for i in 0..<count where p[i] != name.utf8Start[i] { return false }
    return true
}

extension EventType {
    /// Parses a `type` value's decoded bytes (a fast path for ``EventType/init(bytes:)``).
    fileprivate init?(_ p: UnsafePointer<UInt8>, count: Int) {
        func matches(_ name: StaticString) -> Bool { bytesEqual(p, name) }
        switch count {
        case 4 where matches("page"): self = .page
        case 5 where matches("track"): self = .track
        case 5 where matches("group"): self = .group
        case 5 where matches("alias"): self = .alias
        case 6 where matches("screen"): self = .screen
        case 8 where matches("identify"): self = .identify
        default: return nil
        }
    }
}

/// A valid consent stamp already read in a request, for ``RequestScanner``'s stamp cache.
struct CachedStamp {
    /// The stamp object's bytes, braces included.
    var range: Range<Int>
    /// Its entries in ``ScannedRequest/preferences``.
    var entries: Range<Int>
}

/// What a `context` object holds that consentgate reads: the consent path, the client's address and
/// the sending library's name.
struct ConsentPath {
    var context: ObjectRef
    var consent: ObjectRef?
    var stamp: ConsentStamp?
    var address: AddressMember?
    var libraryName: ValueRef?
    /// Where the `categoryPreferences` member's key starts, so that the batch's shared stamp can be cut
    /// out of the envelope (``RequestScanner``'s `memberRange`, computed for the envelope only).
    var stampKeyStart: Int?
    var defect: EventDefect?

    mutating func flag(_ defect: EventDefect) {
        if self.defect == nil { self.defect = defect }
    }
}

extension ScannedEvent {
    /// Records a defect unless an earlier one was found: the first defect wins.
    fileprivate mutating func flag(_ defect: EventDefect) {
        if self.defect == nil { self.defect = defect }
    }
}

/// One scan in progress. Every `depth` parameter is the number of arrays and objects enclosing the
/// value at the cursor.
struct RequestScanner {
    var cursor: JSONCursor
    let body: UnsafeRawBufferPointer
    let limits: WireLimits
    var request: ScannedRequest
    /// An envelope problem, reported once the whole document is known to be valid JSON.
    var deferred: WireError?
    /// Category keys already decoded in this request (unescaped ones, at most 32): a batch repeats the
    /// same few categories in every event, so each costs one String per request, not one per event.
    private var categoryCache: [CachedCategory]
    /// Valid stamps already read in this request (the first ``stampCacheSize``; `stampCount` of the
    /// slots are filled): the events of a batch mostly carry a few identical stamps, and a stamp byte
    /// for byte equal to one of them is the same valid object with the same entries, so it is matched
    /// with a compare instead of being parsed again.
    private let stampCache: UnsafeMutableBufferPointer<CachedStamp>
    private var stampCount = 0
    static let stampCacheSize = 8

    init(
        cursor: JSONCursor, body: UnsafeRawBufferPointer, limits: WireLimits, request: ScannedRequest,
        stampCache: UnsafeMutableBufferPointer<CachedStamp>
    ) {
        self.cursor = cursor
        self.body = body
        self.limits = limits
        self.request = request
        self.categoryCache = []
        self.stampCache = stampCache
    }

    private struct CachedCategory {
        /// The key's first occurrence: its bytes between the quotes.
        var range: Range<Int>
        var category: String
        var isASCII: Bool
    }

    private var base: UnsafePointer<UInt8> { cursor.base }

    /// The byte at the cursor; callers have checked that one is there.
    private var current: UInt8 { cursor.base[cursor.pos] }

    mutating func scanDocument() throws(WireError) {
        guard let first = cursor.peekToken() else { throw WireError(.invalidJSON, "empty document") }
        guard first == UInt8(ascii: "{") else {
            try cursor.skipValue(depth: 0)
            try expectEnd()
            throw WireError(.invalidBatch, "the top level is not an object")
        }
        switch request.route {
        case .batch:
            try scanBatchEnvelope()
            try expectEnd()
            if let deferred { throw deferred }
        case .single(let routeType):
            let event = try scanEvent(depth: 0, defaultType: routeType, envelope: true)
            try expectEnd()
            request.events = [event]
            if let defect = event.defect {
                throw WireError(.invalidEvent, "invalid event: \(defect.rawValue)")
            }
        }
    }

    private mutating func expectEnd() throws(WireError) {
        if cursor.peekToken() != nil {
            throw cursor.invalid("unexpected data after the top-level value", at: cursor.pos)
        }
    }

    private mutating func deferBatchError(_ message: String) {
        if deferred == nil { deferred = WireError(.invalidBatch, message) }
    }

    // MARK: Objects

    /// Opens the object at the cursor; `false` when it is empty (and already closed).
    @inline(__always)
    private mutating func openObject(depth: Int) throws(WireError) -> Bool {
        guard depth < limits.maxDepth else { throw cursor.tooDeep(at: cursor.pos) }
        cursor.pos &+= 1
        guard let b = cursor.peekToken() else { throw cursor.unexpected(expecting: "a key string or '}'") }
        if b == UInt8(ascii: "}") {
            cursor.pos &+= 1
            return false
        }
        return true
    }

    /// After a member's value: `true` when another member follows, `false` when the object closed.
    @inline(__always)
    private mutating func nextMember() throws(WireError) -> Bool {
        guard let c = cursor.peekToken() else { throw cursor.unexpected(expecting: "',' or '}'") }
        if c == UInt8(ascii: ",") {
            cursor.pos &+= 1
            if cursor.peekToken() == UInt8(ascii: "}") { throw cursor.invalid("trailing comma", at: cursor.pos) }
            return true
        }
        guard c == UInt8(ascii: "}") else { throw cursor.unexpected(expecting: "',' or '}'") }
        cursor.pos &+= 1
        return false
    }

    /// Reads a member's key string and colon (``JSONCursor/readKeyString()``).
    @inline(__always)
    private mutating func readKeyString() throws(WireError) -> (range: Range<Int>, shape: JSONCursor.StringShape) {
        try cursor.readKeyString()
    }

    /// Reads and classifies a member's key (``JSONCursor/readMemberKey()``).
    @inline(__always)
    private mutating func readKey() throws(WireError) -> (key: MemberKey, folded: Bool) {
        try cursor.readMemberKey()
    }

    // MARK: Values

    /// A string value at the cursor as a ``ValueRef``; any other value is skipped and gives `nil`.
    private mutating func readString(depth: Int) throws(WireError) -> ValueRef? {
        guard current == UInt8(ascii: "\"") else {
            try cursor.skipValue(depth: depth)
            return nil
        }
        let start = cursor.pos
        let escaped = try cursor.scanString()
        return ValueRef(range: start..<cursor.pos, kind: .string, hasEscapes: escaped)
    }

    /// An object value at the cursor as an ``ObjectRef``; any other value is skipped and gives `nil`.
    private mutating func readObject(depth: Int) throws(WireError) -> ObjectRef? {
        guard current == UInt8(ascii: "{") else {
            try cursor.skipValue(depth: depth)
            return nil
        }
        let start = cursor.pos
        try cursor.skipContainer(depth: depth)
        let isEmpty = JSONCursor.isBlank(base, (start + 1)..<(cursor.pos - 1))
        return ObjectRef(range: start..<cursor.pos, isEmpty: isEmpty)
    }

    /// An identifier: a string or a number; `null` or `""` is absent; anything else is a defect.
    private mutating func readIdentifier(depth: Int, event: inout ScannedEvent) throws(WireError) -> ValueRef? {
        let start = cursor.pos
        switch current {
        case UInt8(ascii: "\""):
            let escaped = try cursor.scanString()
            if cursor.pos - start == 2 { return nil }
            return ValueRef(range: start..<cursor.pos, kind: .string, hasEscapes: escaped)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try cursor.scanNumber()
            guard Self.isExactInteger(base + start, count: cursor.pos - start) else {
                event.flag(.invalidIdentifier)
                return nil
            }
            return ValueRef(range: start..<cursor.pos, kind: .number, hasEscapes: false)
        case UInt8(ascii: "n"):
            _ = try cursor.scanLiteral()
            return nil
        default:
            event.flag(.invalidIdentifier)
            try cursor.skipValue(depth: depth)
            return nil
        }
    }

    /// Whether a valid JSON number is a plain integer literal that every reader turns into the same text:
    /// no fraction, no exponent, not `-0`, and within ±2^53 (a reader through a 64-bit float reads
    /// `1e2`, `100.0` and `100` alike, and changes integers past 2^53).
    static func isExactInteger(_ p: UnsafePointer<UInt8>, count: Int) -> Bool {
        let negative = p[0] == UInt8(ascii: "-")
        let digits = UnsafeBufferPointer(start: p + (negative ? 1 : 0), count: count - (negative ? 1 : 0))
        guard !digits.isEmpty, digits.allSatisfy(JSONCursor.isDigit) else { return false }
        if negative && digits.count == 1 && digits[0] == UInt8(ascii: "0") { return false }
        let limit: StaticString = "9007199254740992"  // 2^53
        let limitDigits = UnsafeBufferPointer(start: limit.utf8Start, count: limit.utf8CodeUnitCount)
        if digits.count != limitDigits.count { return digits.count < limitDigits.count }
        return !limitDigits.lexicographicallyPrecedes(digits)
    }

    /// The `type` value: a known type name, else `nil`.
    private mutating func readType(depth: Int) throws(WireError) -> EventType? {
        guard let ref = try readString(depth: depth) else { return nil }
        let content = base + ref.range.lowerBound + 1
        let count = ref.range.count - 2
        guard ref.hasEscapes else { return EventType(content, count: count) }
        guard count <= 8 * 6 else { return nil }  // "identify" with every character escaped
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            guard let out = buffer.baseAddress else { return nil }
            let decoded = JSONString.unescape(content, count: count, into: out)
            return EventType(out, count: decoded)
        }
    }

    // MARK: Batch envelope

    private mutating func scanBatchEnvelope() throws(WireError) {
        var seen: UInt32 = 0
        if try openObject(depth: 0) {
            repeat {
                let (match, folded) = try readKey()
                if folded && MemberKey.batchEnvelopeKeys & MemberKey.foldSensitive & match.bit != 0 {
                    deferBatchError("a top-level key differs from \(match.name) only in letter case")
                }
                let key = folded ? MemberKey.other : match
                if MemberKey.batchEnvelopeKeys & key.bit != 0 {
                    guard seen & key.bit == 0 else {
                        deferBatchError("duplicate \(key.name) key at the top level")
                        try cursor.skipValue(depth: 1)
                        continue
                    }
                    seen |= key.bit
                }
                switch key {
                case .batch:
                    if current == UInt8(ascii: "[") {
                        try scanBatchArray(depth: 1)
                    } else {
                        deferBatchError("batch is not an array")
                        try cursor.skipValue(depth: 1)
                    }
                case .context:
                    guard current == UInt8(ascii: "{") else {
                        deferBatchError("the top-level context is not an object")
                        try cursor.skipValue(depth: 1)
                        continue
                    }
                    let path = try scanContext(depth: 1)
                    request.context = path.context
                    request.address = path.address
                    request.libraryName = path.libraryName
                    if let defect = path.defect {
                        deferBatchError("the top-level context.consent.categoryPreferences is malformed (\(defect.rawValue))")
                    } else {
                        request.sharedStamp = path.stamp
                        request.sharedStampMember = path.stamp.flatMap { stamp in
                            path.stampKeyStart.map { memberRange(keyStart: $0, valueEnd: stamp.range.upperBound) }
                        }
                    }
                case .writeKey:
                    request.writeKey = try readString(depth: 1)
                case .sentAt:
                    request.sentAt = try readString(depth: 1)
                case .integrations:
                    request.integrations = try readObject(depth: 1)
                default:
                    try cursor.skipValue(depth: 1)
                }
            } while try nextMember()
        }
        if seen & MemberKey.batch.bit == 0 { deferBatchError("the body has no batch array") }
    }

    /// The `batch` array at the cursor: each item becomes an event.
    private mutating func scanBatchArray(depth: Int) throws(WireError) {
        let start = cursor.pos
        guard depth < limits.maxDepth else { throw cursor.tooDeep(at: cursor.pos) }
        cursor.pos &+= 1
        guard let first = cursor.peekToken() else { throw cursor.unexpected(expecting: "a value or ']'") }
        if first == UInt8(ascii: "]") {
            cursor.pos &+= 1
            request.batchArray = start..<cursor.pos
            return
        }
        // Real events are rarely under 400 bytes: one allocation for most batches, no copies on growth.
        request.events.reserveCapacity(min(limits.maxEventsPerBatch, (cursor.end - cursor.pos) / 400 + 1))
        while true {
            guard request.events.count < limits.maxEventsPerBatch else {
                throw WireError(.tooManyEvents, "the batch holds more than \(limits.maxEventsPerBatch) events")
            }
            let itemStart = cursor.pos
            var event: ScannedEvent
            if current == UInt8(ascii: "{") {
                event = try scanEvent(depth: depth + 1, defaultType: nil, envelope: false)
            } else {
                try cursor.skipValue(depth: depth + 1)
                event = ScannedEvent(range: itemStart..<cursor.pos)
                event.defect = .notAnObject
            }
            guard event.range.count <= limits.maxEventBytes else {
                throw WireError(
                    .eventTooLarge,
                    "batch item \(request.events.count) is larger than \(limits.maxEventBytes) bytes"
                )
            }
            request.events.append(event)
            guard let c = cursor.peekToken() else { throw cursor.unexpected(expecting: "',' or ']'") }
            if c == UInt8(ascii: ",") {
                cursor.pos &+= 1
                guard let next = cursor.peekToken() else { throw cursor.unexpected(expecting: "a value") }
                if next == UInt8(ascii: "]") { throw cursor.invalid("trailing comma", at: cursor.pos) }
                continue
            }
            guard c == UInt8(ascii: "]") else { throw cursor.unexpected(expecting: "',' or ']'") }
            cursor.pos &+= 1
            request.batchArray = start..<cursor.pos
            return
        }
    }

    // MARK: Events

    /// The event object at the cursor.
    /// - Parameters:
    ///   - defaultType: the type when the event has no `type` member (a single-event route's).
    ///   - envelope: whether the event is a single-event body, which also holds `writeKey`, `sentAt`
    ///     and `integrations`.
    private mutating func scanEvent(depth: Int, defaultType: EventType?, envelope: Bool) throws(WireError) -> ScannedEvent {
        let start = cursor.pos
        var event = ScannedEvent(range: start..<start)
        let interpreted = envelope ? MemberKey.eventKeys | MemberKey.singleEnvelopeKeys : MemberKey.eventKeys
        var seen: UInt32 = 0
        if try openObject(depth: depth) {
            let inner = depth + 1
            repeat {
                let (match, folded) = try readKey()
                if folded && interpreted & MemberKey.foldSensitive & match.bit != 0 { event.flag(.ambiguousKey) }
                let key = folded ? MemberKey.other : match
                guard interpreted & key.bit != 0 else {
                    try cursor.skipValue(depth: inner)
                    continue
                }
                guard seen & key.bit == 0 else {
                    event.flag(.duplicateKey)
                    try cursor.skipValue(depth: inner)
                    continue
                }
                seen |= key.bit
                switch key {
                case .type:
                    event.type = try readType(depth: inner)
                    if event.type == nil { event.flag(.unknownType) }
                case .userId: event.userId = try readIdentifier(depth: inner, event: &event)
                case .anonymousId: event.anonymousId = try readIdentifier(depth: inner, event: &event)
                case .previousId: event.previousId = try readIdentifier(depth: inner, event: &event)
                case .groupId: event.groupId = try readIdentifier(depth: inner, event: &event)
                case .messageId: event.messageId = try readString(depth: inner)
                case .event: event.eventName = try readString(depth: inner)
                case .context:
                    guard current == UInt8(ascii: "{") else {
                        event.flag(.invalidConsentStamp)
                        try cursor.skipValue(depth: inner)
                        continue
                    }
                    let path = try scanContext(depth: inner)
                    event.context = path.context
                    event.consent = path.consent
                    event.stamp = path.stamp
                    event.address = path.address
                    event.libraryName = path.libraryName
                    if let defect = path.defect { event.flag(defect) }
                case .writeKey: request.writeKey = try readString(depth: inner)
                case .sentAt: request.sentAt = try readString(depth: inner)
                case .integrations: request.integrations = try readObject(depth: inner)
                default: try cursor.skipValue(depth: inner)
                }
            } while try nextMember()
        }
        event.range = start..<cursor.pos
        if seen & MemberKey.type.bit == 0 {
            event.type = defaultType
        } else if let defaultType, let type = event.type, type != defaultType {
            // Whether the route or the body names the type is a receiver's choice: neither may win.
            event.flag(.typeMismatch)
        }
        Self.checkRules(&event)
        return event
    }

    /// Segment's per-type required fields.
    private static func checkRules(_ event: inout ScannedEvent) {
        guard event.defect == nil else { return }
        guard let type = event.type else {
            event.defect = .unknownType
            return
        }
        switch type {
        case .alias:
            if event.previousId == nil || event.userId == nil { event.defect = .missingIdentity }
        case .identify, .track, .page, .screen, .group:
            if event.userId == nil && event.anonymousId == nil { event.defect = .missingIdentity }
        }
        guard event.defect == nil else { return }
        if type == .track && event.eventName == nil { event.defect = .missingEventName }
        if type == .group && event.groupId == nil { event.defect = .missingGroupId }
    }

    // MARK: Consent path

    /// The `context` object at the cursor and, inside it, `consent.categoryPreferences`, `ip` and
    /// `library.name`.
    private mutating func scanContext(depth: Int) throws(WireError) -> ConsentPath {
        let start = cursor.pos
        var path = ConsentPath(context: ObjectRef(range: start..<start, isEmpty: true))
        var seenConsent = false
        if try openObject(depth: depth) {
            path.context.isEmpty = false
            repeat {
                let keyStart = cursor.pos
                let (key, folded) = try readKey()
                switch key {
                case .consent:
                    guard try readsObjectMember(folded: folded, seen: &seenConsent, depth: depth + 1, path: &path) else { continue }
                    try scanConsent(depth: depth + 1, into: &path)
                case .ip:
                    try scanAddress(keyStart: keyStart, folded: folded, depth: depth + 1, into: &path)
                case .library where !folded && path.libraryName == nil && current == UInt8(ascii: "{"):
                    path.libraryName = try scanLibrary(depth: depth + 1)
                default:
                    try cursor.skipValue(depth: depth + 1)
                }
            } while try nextMember()
        }
        path.context.range = start..<cursor.pos
        return path
    }

    /// Whether to read the value of an interpreted object member (`consent`, `categoryPreferences`): one
    /// spelled exactly, the first of its object, an object. Any other is skipped with its defect flagged:
    /// a case variant is ambiguous, a second one a duplicate, a value that is no object an invalid stamp.
    @inline(__always)
    private mutating func readsObjectMember(folded: Bool, seen: inout Bool, depth: Int, path: inout ConsentPath) throws(WireError) -> Bool {
        if folded {
            path.flag(.ambiguousKey)
        } else if seen {
            path.flag(.duplicateKey)
        } else {
            seen = true
            if current == UInt8(ascii: "{") { return true }
            path.flag(.invalidConsentStamp)
        }
        try cursor.skipValue(depth: depth)
        return false
    }

    /// A `context.ip` member at the cursor (its value, whatever its type). A second one, or a spelling
    /// that is `ip` only to a receiver that folds case (`IP`), makes the address ambiguous.
    private mutating func scanAddress(keyStart: Int, folded: Bool, depth: Int, into path: inout ConsentPath) throws(WireError) {
        let valueStart = cursor.pos
        let isString = current == UInt8(ascii: "\"")
        try cursor.skipValue(depth: depth)
        if path.address == nil {
            path.address = AddressMember(
                member: memberRange(keyStart: keyStart, valueEnd: cursor.pos), value: valueStart..<cursor.pos, isString: isString)
            path.address?.ambiguous = folded
        } else {
            path.address?.ambiguous = true
        }
    }

    /// The `library` object at the cursor: its `name` when that is a string.
    private mutating func scanLibrary(depth: Int) throws(WireError) -> ValueRef? {
        var name: ValueRef?
        if try openObject(depth: depth) {
            repeat {
                let (key, folded) = try readKey()
                if key == .name, !folded, name == nil {
                    name = try readString(depth: depth + 1)
                } else {
                    try cursor.skipValue(depth: depth + 1)
                }
            } while try nextMember()
        }
        return name
    }

    /// The `consent` object at the cursor.
    private mutating func scanConsent(depth: Int, into path: inout ConsentPath) throws(WireError) {
        let start = cursor.pos
        var isEmpty = true
        var seenPreferences = false
        if try openObject(depth: depth) {
            isEmpty = false
            repeat {
                let keyStart = cursor.pos
                let (key, folded) = try readKey()
                guard key == .categoryPreferences else {
                    try cursor.skipValue(depth: depth + 1)
                    continue
                }
                guard try readsObjectMember(folded: folded, seen: &seenPreferences, depth: depth + 1, path: &path) else { continue }
                let (stamp, defect) = try scanPreferences(depth: depth + 1)
                path.stamp = stamp
                path.stampKeyStart = keyStart
                if let defect { path.flag(defect) }
            } while try nextMember()
        }
        path.consent = ObjectRef(range: start..<cursor.pos, isEmpty: isEmpty)
    }

    /// The bytes that remove the member from `keyStart` to `valueEnd` from its object and leave valid
    /// JSON: the member with the comma after it, else with the comma before it, else alone.
    private func memberRange(keyStart: Int, valueEnd: Int) -> Range<Int> {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
        var after = valueEnd
        while after < cursor.end, isSpace(base[after]) { after += 1 }
        if after < cursor.end, base[after] == UInt8(ascii: ",") { return keyStart..<(after + 1) }
        var before = keyStart - 1
        while before > 0, isSpace(base[before]) { before -= 1 }
        if before >= 0, base[before] == UInt8(ascii: ",") { return before..<valueEnd }
        return keyStart..<valueEnd
    }

    /// The `categoryPreferences` object at the cursor: every value must be `true` or `false`,
    /// every category key distinct. Its entries are appended to ``ScannedRequest/preferences``
    /// (and taken back when it is malformed).
    private mutating func scanPreferences(depth: Int) throws(WireError) -> (ConsentStamp?, EventDefect?) {
        let start = cursor.pos
        let first = request.preferences.count
        // A stamp has no nested containers, so it fits at this depth exactly when `openObject` would accept it.
        if depth < limits.maxDepth, let cached = cachedStamp(at: start) {
            // The same bytes mean the same entries: share them (enforcement also decides them once).
            cursor.pos = start + cached.range.count
            return (ConsentStamp(range: start..<cursor.pos, entries: cached.entries), nil)
        }
        if request.preferences.capacity == 0 {
            request.preferences.reserveCapacity(min(4096, request.events.capacity * 4 + 8))
        }
        var defect: EventDefect?
        var seen: Set<String>?
        // While every key so far is a cached ASCII key, keys are equal exactly when their cache slots are.
        var slotsOnly = true
        var seenSlots: UInt32 = 0
        if try openObject(depth: depth) {
            repeat {
                let (keyRange, shape) = try readKeyString()
                let (category, slot, isASCII) = readCategory(keyRange, escaped: shape.contains(.escaped))
                let value = current
                guard value == UInt8(ascii: "t") || value == UInt8(ascii: "f") else {
                    if defect == nil { defect = .invalidConsentStamp }
                    try cursor.skipValue(depth: depth + 1)
                    continue
                }
                _ = try cursor.scanLiteral()
                let duplicate: Bool
                if slotsOnly, let slot, isASCII {
                    duplicate = seenSlots & (1 << UInt32(slot)) != 0
                    seenSlots |= 1 << UInt32(slot)
                } else {
                    slotsOnly = false
                    duplicate = isDuplicate(category, since: first, seen: &seen)
                }
                if duplicate {
                    if defect == nil { defect = .duplicateKey }
                    continue
                }
                request.preferences.append(CategoryPreference(category: category, granted: value == UInt8(ascii: "t")))
            } while try nextMember()
        }
        if defect == nil, KeyFolding.hasFoldedDuplicate(request.preferences[first...].lazy.map(\.category)) {
            // `Analytics` and `analytics`: one category to a receiver that folds case.
            defect = .duplicateKey
        }
        if let defect {
            request.preferences.removeSubrange(first...)
            return (nil, defect)
        }
        if stampCount < stampCache.count {
            stampCache[stampCount] = CachedStamp(range: start..<cursor.pos, entries: first..<request.preferences.count)
            stampCount += 1
        }
        return (ConsentStamp(range: start..<cursor.pos, entries: first..<request.preferences.count), nil)
    }

    /// The cached stamp whose bytes are also the bytes at `start`, if any.
    private func cachedStamp(at start: Int) -> CachedStamp? {
        for cached in stampCache[..<stampCount] where cached.range.count <= cursor.end - start {
            if JSONCursor.bytesEqual(base + cached.range.lowerBound, base + start, count: cached.range.count) { return cached }
        }
        return nil
    }

    /// A category key, decoded: from the cache when the same bytes were seen before in this request.
    /// - Returns: the category, its cache slot (`nil` when not cached), and whether it is ASCII.
    private mutating func readCategory(_ keyRange: Range<Int>, escaped: Bool) -> (String, Int?, Bool) {
        if escaped {
            let category = JSONString.decode(ValueRef(range: keyRange, kind: .string, hasEscapes: true), in: body)
            return (category, nil, category.utf8.allSatisfy { $0 < 0x80 })
        }
        let start = keyRange.lowerBound + 1
        let count = keyRange.count - 2
        let bytes = UnsafeBufferPointer(start: base + start, count: count)
        for slot in categoryCache.indices where categoryCache[slot].range.count == count {
            if JSONCursor.bytesEqual(base + categoryCache[slot].range.lowerBound, base + start, count: count) {
                return (categoryCache[slot].category, slot, categoryCache[slot].isASCII)
            }
        }
        let category = String(decoding: bytes, as: UTF8.self)
        let isASCII = bytes.allSatisfy { $0 < 0x80 }
        guard categoryCache.count < 32 else { return (category, nil, isASCII) }
        categoryCache.append(CachedCategory(range: start..<(start + count), category: category, isASCII: isASCII))
        return (category, categoryCache.count - 1, isASCII)
    }

    /// Whether `category` is already among the stamp's entries (a linear look for the usual handful,
    /// a set once a stamp grows large, so a hostile stamp can't cost quadratic time). Compared as Swift
    /// strings (canonical equivalence), so two spellings of one category also count as a duplicate.
    private func isDuplicate(_ category: String, since first: Int, seen: inout Set<String>?) -> Bool {
        let entries = request.preferences[first...]
        if seen == nil {
            if entries.count < 16 {
                return entries.contains { $0.category == category }
            }
            seen = Set(entries.map(\.category))
        }
        return seen?.insert(category).inserted == false
    }
}
