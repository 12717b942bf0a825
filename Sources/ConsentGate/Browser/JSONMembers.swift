import SegmentWire

/// The members of a JSON object and the elements of an array as byte ranges of the document, read
/// with the shared ``SegmentWire/JSONTextReader`` (so every value it skips is validated by the request
/// path's own grammar). For the settings rewrite, which edits a few values and copies the rest verbatim.
struct JSONMembers {
    typealias Failure = JSONTextReader.Failure

    /// One member: its decoded name, where it starts (its opening quote) and where its value lies.
    struct Member {
        var name: String
        var start: Int
        var value: Range<Int>
    }

    /// An object's members in document order, and the offset of its closing brace.
    struct Object {
        var members: [Member]
        var closingBrace: Int

        /// The last member named `name` (the one `JSON.parse` keeps).
        func last(_ name: String) -> Member? { members.last { $0.name == name } }
    }

    /// Deeper nesting than any settings document has; beyond it the document is refused.
    static let maxDepth = 128

    let bytes: UnsafeBufferPointer<UInt8>

    /// The first byte of the value at `range` (`{`, `[`, `"`, a digit, a literal's letter).
    func opening(_ range: Range<Int>) -> UInt8 { bytes[range.lowerBound] }

    /// The object whose `{` is at `start`; `depth` counts the containers around it. `nil` when the value
    /// there is not an object.
    func object(at start: Int, depth: Int) throws(Failure) -> Object? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "{") else { return nil }
        var reader = JSONTextReader(bytes: bytes)
        reader.index = start + 1
        reader.skipWhitespace()
        var members: [Member] = []
        if reader.peek() == UInt8(ascii: "}") { return Object(members: [], closingBrace: reader.index) }
        while true {
            let memberStart = reader.index
            try reader.expect(UInt8(ascii: "\""), "expected a member name")
            let name = reader.makeString(try reader.scanString())
            reader.skipWhitespace()
            try reader.expect(UInt8(ascii: ":"), "expected ':'")
            reader.skipWhitespace()
            let valueStart = reader.index
            try reader.skipValue(depth: depth + 1, maxDepth: Self.maxDepth)
            members.append(Member(name: name, start: memberStart, value: valueStart..<reader.index))
            reader.skipWhitespace()
            if reader.peek() == UInt8(ascii: "}") { return Object(members: members, closingBrace: reader.index) }
            try reader.expect(UInt8(ascii: ","), "expected ',' or '}'")
            reader.skipWhitespace()
        }
    }

    /// The elements of the array whose `[` is at `start`; `nil` when the value there is not an array.
    func array(at start: Int, depth: Int) throws(Failure) -> [Range<Int>]? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "[") else { return nil }
        var reader = JSONTextReader(bytes: bytes)
        reader.index = start + 1
        reader.skipWhitespace()
        var elements: [Range<Int>] = []
        if reader.peek() == UInt8(ascii: "]") { return [] }
        while true {
            let valueStart = reader.index
            try reader.skipValue(depth: depth + 1, maxDepth: Self.maxDepth)
            elements.append(valueStart..<reader.index)
            reader.skipWhitespace()
            if reader.peek() == UInt8(ascii: "]") { return elements }
            try reader.expect(UInt8(ascii: ","), "expected ',' or ']'")
            reader.skipWhitespace()
        }
    }

    /// The decoded string at `range`; `nil` when the value there is not a string.
    func string(_ range: Range<Int>) -> String? {
        guard bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
        var reader = JSONTextReader(bytes: bytes)
        reader.index = range.lowerBound
        return try? reader.readString("expected a string")
    }

    /// The whole document's top-level value, validated to its end: an object, or `nil` for any other value.
    func document() throws(Failure) -> Object? {
        var reader = JSONTextReader(bytes: bytes)
        reader.skipWhitespace()
        let start = reader.index
        try reader.skipValue(depth: 0, maxDepth: Self.maxDepth)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw Failure(offset: reader.index, reason: "unexpected bytes after the document") }
        return try object(at: start, depth: 0)
    }
}
