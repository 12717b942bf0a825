import ConsentCore
public import SegmentWire

/// The stored form of a subject's preferences: a flat JSON object of booleans, such as
/// `{"Advertising":false,"Analytics":true}`.
///
/// ``encode(_:)`` writes the canonical form: categories sorted as ``ConsentRecord/normalized(_:)`` sorts them,
/// each once, no white space, strings escaped minimally (`"`, `\` and control characters only).
/// ``decode(_:)`` reads any valid JSON object whose values are all booleans, with or without white space,
/// so a record edited by hand still reads; it refuses a repeated category, since which one wins is
/// ambiguous.
///
/// Hand-written rather than `Codable`: lookups decode this on every cache miss.
public enum PreferencesJSON {
    /// Why a stored preferences text could not be read. Never quotes the text itself.
    public struct DecodingError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The UTF-8 offset where reading stopped.
        public var offset: Int
        /// What was expected there.
        public var reason: String

        public init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }

        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// The canonical JSON object of `preferences`: sorted by category, the last value of a repeated category.
    public static func encode(_ preferences: some Collection<CategoryPreference>) -> String {
        // Imports pass already-normalized preferences by the million: skip the dictionary when sorted.
        if isStrictlySorted(preferences) {
            return encodeSorted(preferences)
        }
        return encodeSorted(ConsentRecord.normalized(preferences))
    }

    /// Reads a JSON object whose values are all booleans, in document order.
    /// - Throws: ``DecodingError`` for anything else, including a repeated category.
    public static func decode(_ text: String) throws(DecodingError) -> [CategoryPreference] {
        var text = text
        // `withUTF8` only rethrows untyped errors: carry the typed one out in a Result.
        let result = text.withUTF8 { bytes in
            Result { () throws(DecodingError) -> [CategoryPreference] in
                var parser = Parser(reader: JSONTextReader(bytes: bytes))
                do throws(JSONTextReader.Failure) {
                    return try parser.parseObject()
                } catch {
                    throw DecodingError(offset: error.offset, reason: error.reason)
                }
            }
        }
        return try result.get()
    }

    private static func isStrictlySorted(_ preferences: some Collection<CategoryPreference>) -> Bool {
        var previous: String?
        for preference in preferences {
            if let previous, !(previous < preference.category) { return false }
            previous = preference.category
        }
        return true
    }

    private static func encodeSorted(_ preferences: some Collection<CategoryPreference>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(2 + preferences.count * 24)
        out.append(UInt8(ascii: "{"))
        var first = true
        for preference in preferences {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONString.appendQuoted(preference.category, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: preference.granted ? trueBytes : falseBytes)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    private static let trueBytes: [UInt8] = Array("true".utf8)
    private static let falseBytes: [UInt8] = Array("false".utf8)
}

extension PreferencesJSON {
    /// A strict reader of `{"key":bool,...}` on top of the shared ``JSONTextReader``.
    private struct Parser {
        typealias Failure = JSONTextReader.Failure

        var reader: JSONTextReader

        mutating func parseObject() throws(Failure) -> [CategoryPreference] {
            reader.skipWhitespace()
            try reader.expect(UInt8(ascii: "{"), "expected '{'")
            var result: [CategoryPreference] = []
            reader.skipWhitespace()
            if reader.peek() == UInt8(ascii: "}") {
                reader.index += 1
            } else {
                while true {
                    reader.skipWhitespace()
                    let keyOffset = reader.index
                    let category = try reader.readString("expected a category string")
                    if Self.contains(result, category) {
                        throw Failure(offset: keyOffset, reason: "repeated category")
                    }
                    reader.skipWhitespace()
                    try reader.expect(UInt8(ascii: ":"), "expected ':'")
                    reader.skipWhitespace()
                    let granted = try reader.readBool("expected true or false")
                    result.append(CategoryPreference(category: category, granted: granted))
                    reader.skipWhitespace()
                    guard let byte = reader.peek() else { throw Failure(offset: reader.index, reason: "unterminated object") }
                    reader.index += 1
                    if byte == UInt8(ascii: "}") { break }
                    guard byte == UInt8(ascii: ",") else {
                        throw Failure(offset: reader.index - 1, reason: "expected ',' or '}'")
                    }
                }
            }
            reader.skipWhitespace()
            guard reader.peek() == nil else { throw Failure(offset: reader.index, reason: "trailing characters") }
            return result
        }

        /// Few categories per subject: a linear scan beats hashing until the object gets large.
        private static func contains(_ preferences: [CategoryPreference], _ category: String) -> Bool {
            preferences.contains { $0.category == category }
        }
    }
}
