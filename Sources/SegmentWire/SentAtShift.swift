/// Moves every `sentAt` of a request body by the time the body was held back before it goes to Segment.
///
/// Segment corrects each event's time for the device's clock skew as
/// `receivedAt − (sentAt − originalTimestamp)`, taking `sentAt` and `receivedAt` to be at most a few
/// hundred milliseconds apart. A body held back for a while (a spool delivering after an outage) would
/// have every event's time moved by that while. An SDK that retries stamps `sentAt` again at each try,
/// in its own clock; moving each `sentAt` by the delay gives the SDK's clock at the moment the body goes
/// out, and the corrected times stay where they were.
///
/// Every `sentAt` member is moved: the envelope's and, on a batch route, each item's own, in any letter
/// case or escape spelling, duplicates included, so that no reading of the body finds one left behind.
/// A `sentAt` that is not an ``ISO8601Timestamp`` string is left as it is and counted.
public enum SentAtShift {
    /// What a shift did.
    public struct Outcome: Sendable, Equatable {
        /// The body with its `sentAt`s moved; `nil` when none was moved (forward the original bytes).
        public var body: [UInt8]?
        /// `sentAt` members moved.
        public var moved: Int
        /// `sentAt` members that could not be read as a timestamp, left as they were.
        public var unreadable: Int
    }

    /// Moves every `sentAt` of `body` (decompressed JSON, valid as the ingress accepted it) by `delay`.
    /// - Throws: ``WireError`` when the body is not valid JSON or nests deeper than `maxDepth`.
    public static func shift(
        _ body: UnsafeRawBufferPointer, route: TrackingRoute, byMilliseconds delay: Int64, maxDepth: Int = WireLimits().maxDepth
    ) throws(WireError) -> Outcome {
        let values = try locate(body, route: route, maxDepth: maxDepth)
        var outcome = Outcome(body: nil, moved: 0, unreadable: 0)
        guard !values.isEmpty else { return outcome }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 16 * values.count)
        var copied = 0
        for value in values {
            guard let moved = movedTimestamp(value, in: body, by: delay) else {
                outcome.unreadable += 1
                continue
            }
            out.append(contentsOf: body[copied..<value.range.lowerBound])
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: moved)
            out.append(UInt8(ascii: "\""))
            copied = value.range.upperBound
            outcome.moved += 1
        }
        guard outcome.moved > 0 else { return outcome }
        out.append(contentsOf: body[copied...])
        outcome.body = out
        return outcome
    }

    /// The string values of every `sentAt` member, in document order.
    static func locate(_ body: UnsafeRawBufferPointer, route: TrackingRoute, maxDepth: Int) throws(WireError) -> [ValueRef] {
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self), body.count > 0 else {
            throw WireError(.invalidJSON, "empty body")
        }
        let words = JSONCursor.kindWords(count: body.count, maxDepth: maxDepth)
        return try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { (kinds) throws(WireError) -> [ValueRef] in
            guard let kindsBase = kinds.baseAddress else { throw WireError(.invalidJSON, "empty body") }
            kinds.initialize(repeating: 0)
            var locator = Locator(cursor: JSONCursor(base: base, count: body.count, maxDepth: maxDepth, kinds: kindsBase))
            guard locator.cursor.peekToken() == UInt8(ascii: "{") else { throw WireError(.invalidBatch, "the top level is not an object") }
            try locator.members(depth: 0, readsBatch: route == .batch)
            guard locator.cursor.peekToken() == nil else {
                throw locator.cursor.invalid("unexpected data after the top-level value", at: locator.cursor.pos)
            }
            return locator.found
        }
    }

    /// The timestamp of a `sentAt` string value moved by `delay`, or `nil` when it is none.
    private static func movedTimestamp(_ value: ValueRef, in body: UnsafeRawBufferPointer, by delay: Int64) -> [UInt8]? {
        let timestamp: ISO8601Timestamp?
        if value.hasEscapes {
            timestamp = ISO8601Timestamp(Array(JSONString.decode(value, in: body).utf8))
        } else {
            timestamp = ISO8601Timestamp(body[(value.range.lowerBound + 1)..<(value.range.upperBound - 1)])
        }
        return timestamp?.moved(byMilliseconds: delay)?.bytes
    }

    /// Walks the envelope and, on a batch route, the items of its `batch` array.
    private struct Locator {
        var cursor: JSONCursor
        var found: [ValueRef] = []

        /// The object at the cursor: its `sentAt` string values, and the items of `batch` when `readsBatch`.
        mutating func members(depth: Int, readsBatch: Bool) throws(WireError) {
            guard try open(depth: depth, closing: "}") else { return }
            repeat {
                // Any spelling a receiver could read as the key: folded letter case included.
                let (key, _) = try cursor.readMemberKey()
                let value = cursor.base[cursor.pos]
                if key == .sentAt && value == UInt8(ascii: "\"") {
                    let start = cursor.pos
                    let escaped = try cursor.scanString()
                    found.append(ValueRef(range: start..<cursor.pos, kind: .string, hasEscapes: escaped))
                } else if key == .batch && readsBatch && value == UInt8(ascii: "[") {
                    try items(depth: depth + 1)
                } else {
                    try cursor.skipValue(depth: depth + 1)
                }
            } while try next(closing: "}")
        }

        /// The array at the cursor: each object item's members.
        private mutating func items(depth: Int) throws(WireError) {
            guard try open(depth: depth, closing: "]") else { return }
            repeat {
                if cursor.base[cursor.pos] == UInt8(ascii: "{") {
                    try members(depth: depth + 1, readsBatch: false)
                } else {
                    try cursor.skipValue(depth: depth + 1)
                }
            } while try next(closing: "]")
        }

        /// Steps into the object or array at the cursor; `false` when it is empty (and already closed).
        private mutating func open(depth: Int, closing: Unicode.Scalar) throws(WireError) -> Bool {
            guard depth < cursor.maxDepth else { throw cursor.tooDeep(at: cursor.pos) }
            cursor.pos &+= 1
            guard let first = cursor.peekToken() else { throw cursor.unexpected(expecting: "a value or a closing bracket") }
            guard first == UInt8(ascii: closing) else { return true }
            cursor.pos &+= 1
            return false
        }

        /// After a member or an element: `true` at the next one (the cursor at it), `false` once the
        /// container closed.
        private mutating func next(closing: Unicode.Scalar) throws(WireError) -> Bool {
            guard let separator = cursor.peekToken() else { throw cursor.unexpected(expecting: "',' or a closing bracket") }
            cursor.pos &+= 1
            if separator == UInt8(ascii: closing) { return false }
            guard separator == UInt8(ascii: ","), let following = cursor.peekToken(), following != UInt8(ascii: closing) else {
                throw cursor.unexpected(expecting: "',' and a value")
            }
            return true
        }
    }
}
