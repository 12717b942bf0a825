import SegmentWire

/// One subject's consent as a line of a `consent import` file gives it.
struct ConsentLine: Sendable, Hashable {
    var subject: String
    /// Sorted by category, each category once (the order ``PreferencesJSON`` stores without re-sorting).
    var preferences: [CategoryPreference]
}

/// Why a line could not be read. Never quotes the line: it may hold a subject id.
struct ConsentLineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The byte offset in the line where reading stopped (0-based).
    var offset: Int
    /// What is wrong, e.g. `expected ':' after a key`.
    var reason: String

    var description: String { "\(reason) (at byte \(offset + 1))" }
}

/// A strict reader of one line of a `consent import` file:
/// `{"subject": "...", "categoryPreferences": {"Category": true, ...}}`.
///
/// - White space may surround every token; a line of only white space is blank (``parse(_:)`` answers `nil`).
/// - Strings are JSON strings: every escape, `\u` surrogate pairs included, and valid UTF-8 only.
/// - `subject` must be a non-empty string and `categoryPreferences` an object whose values are all
///   `true` or `false`; both are required, each at most once. A category repeated inside
///   `categoryPreferences` is refused, since which one was meant is ambiguous (the store does the same).
/// - Any other top-level key is skipped, its value validated as JSON (so exports with extra fields such
///   as `updatedAt` load as they are); values nest at most 64 deep.
///
/// Hand-written rather than `JSONDecoder`: a million lines must parse in well under a second.
enum ConsentLineParser {
    /// The line's subject and preferences, or `nil` for a blank line.
    static func parse(_ line: UnsafeBufferPointer<UInt8>) throws(ConsentLineError) -> ConsentLine? {
        var parser = Parser(reader: JSONTextReader(bytes: line))
        do throws(JSONTextReader.Failure) {
            return try parser.parseLine()
        } catch {
            throw ConsentLineError(offset: error.offset, reason: error.reason)
        }
    }

    /// The same, for tests and small inputs.
    static func parse(_ line: String) throws(ConsentLineError) -> ConsentLine? {
        var line = line
        let result = line.withUTF8 { bytes in
            Result { () throws(ConsentLineError) -> ConsentLine? in try parse(bytes) }
        }
        return try result.get()
    }
}

extension ConsentLineParser {
    /// The deepest nesting accepted inside a skipped value (as the ingress accepts).
    static let maxDepth = 64

    /// The line's grammar on top of the shared ``JSONTextReader`` (tokens, strings, skipped values).
    private struct Parser {
        typealias Failure = JSONTextReader.Failure

        var reader: JSONTextReader

        mutating func parseLine() throws(Failure) -> ConsentLine? {
            reader.skipWhitespace()
            guard reader.peek() != nil else { return nil }
            try reader.expect(UInt8(ascii: "{"), "expected a JSON object")
            var subject: String?
            var preferences: [CategoryPreference]?
            reader.skipWhitespace()
            if reader.peek() == UInt8(ascii: "}") {
                reader.index += 1
            } else {
                while true {
                    reader.skipWhitespace()
                    let keyOffset = reader.index
                    try reader.expect(UInt8(ascii: "\""), "expected a key string")
                    let key = try reader.scanString()
                    reader.skipWhitespace()
                    try reader.expect(UInt8(ascii: ":"), "expected ':' after a key")
                    reader.skipWhitespace()
                    if reader.matches(key, "subject") {
                        guard subject == nil else { throw Failure(offset: keyOffset, reason: "repeated key \"subject\"") }
                        subject = try parseSubject()
                    } else if reader.matches(key, "categoryPreferences") {
                        guard preferences == nil else {
                            throw Failure(offset: keyOffset, reason: "repeated key \"categoryPreferences\"")
                        }
                        preferences = try parsePreferences()
                    } else {
                        try reader.skipValue(depth: 1, maxDepth: ConsentLineParser.maxDepth)
                    }
                    reader.skipWhitespace()
                    guard let byte = reader.peek() else { throw Failure(offset: reader.index, reason: "unterminated object") }
                    reader.index += 1
                    if byte == UInt8(ascii: "}") { break }
                    guard byte == UInt8(ascii: ",") else { throw Failure(offset: reader.index - 1, reason: "expected ',' or '}'") }
                }
            }
            let end = reader.index
            reader.skipWhitespace()
            guard reader.peek() == nil else { throw Failure(offset: reader.index, reason: "unexpected characters after the object") }
            guard let subject else { throw Failure(offset: end, reason: "missing \"subject\"") }
            guard let preferences else { throw Failure(offset: end, reason: "missing \"categoryPreferences\"") }
            return ConsentLine(subject: subject, preferences: preferences)
        }

        private mutating func parseSubject() throws(Failure) -> String {
            let offset = reader.index
            let subject = try reader.readString("\"subject\" must be a string")
            guard !subject.isEmpty else { throw Failure(offset: offset, reason: "\"subject\" is empty") }
            return subject
        }

        private mutating func parsePreferences() throws(Failure) -> [CategoryPreference] {
            guard reader.peek() == UInt8(ascii: "{") else {
                throw Failure(offset: reader.index, reason: "\"categoryPreferences\" must be an object of true/false values")
            }
            reader.index += 1
            var result: [CategoryPreference] = []
            result.reserveCapacity(8)
            reader.skipWhitespace()
            if reader.peek() == UInt8(ascii: "}") {
                reader.index += 1
                return result
            }
            while true {
                reader.skipWhitespace()
                let keyOffset = reader.index
                let category = try reader.readString("expected a category string")
                reader.skipWhitespace()
                try reader.expect(UInt8(ascii: ":"), "expected ':' after a category")
                reader.skipWhitespace()
                let granted = try reader.readBool("category values must be true or false")
                try Self.insertSorted(CategoryPreference(category: category, granted: granted), into: &result, at: keyOffset)
                reader.skipWhitespace()
                guard let byte = reader.peek() else { throw Failure(offset: reader.index, reason: "unterminated categoryPreferences") }
                reader.index += 1
                if byte == UInt8(ascii: "}") { return result }
                guard byte == UInt8(ascii: ",") else { throw Failure(offset: reader.index - 1, reason: "expected ',' or '}'") }
            }
        }

        /// Keeps `result` sorted as ``ConsentRecord/normalized(_:)`` sorts (String `<`): a handful of
        /// categories per subject, so insertion beats sorting afterwards.
        private static func insertSorted(
            _ preference: CategoryPreference, into result: inout [CategoryPreference], at offset: Int
        ) throws(Failure) {
            result.append(preference)
            var position = result.count - 1
            while position > 0 {
                let previous = result[position - 1].category
                if previous == preference.category {
                    throw Failure(offset: offset, reason: "repeated category in categoryPreferences")
                }
                if previous < preference.category { return }
                result.swapAt(position - 1, position)
                position -= 1
            }
        }
    }
}
