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
        var parser = Parser(bytes: line)
        return try parser.parseLine()
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

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        /// Where a string's content lies, and whether it can be taken as is.
        struct StringSpan {
            var range: Range<Int>
            var hasEscapes: Bool
            var hasNonASCII: Bool
        }

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func parseLine() throws(ConsentLineError) -> ConsentLine? {
            skipWhitespace()
            guard index < bytes.count else { return nil }
            try expect(UInt8(ascii: "{"), "expected a JSON object")
            var subject: String?
            var preferences: [CategoryPreference]?
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                index += 1
            } else {
                while true {
                    skipWhitespace()
                    let keyOffset = index
                    try expect(UInt8(ascii: "\""), "expected a key string")
                    let key = try scanString()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "expected ':' after a key")
                    skipWhitespace()
                    if try matches(key, "subject") {
                        guard subject == nil else { throw ConsentLineError(offset: keyOffset, reason: "repeated key \"subject\"") }
                        subject = try parseSubject()
                    } else if try matches(key, "categoryPreferences") {
                        guard preferences == nil else {
                            throw ConsentLineError(offset: keyOffset, reason: "repeated key \"categoryPreferences\"")
                        }
                        preferences = try parsePreferences()
                    } else {
                        try skipValue(depth: 1)
                    }
                    skipWhitespace()
                    guard let byte = peek() else { throw ConsentLineError(offset: index, reason: "unterminated object") }
                    index += 1
                    if byte == UInt8(ascii: "}") { break }
                    guard byte == UInt8(ascii: ",") else { throw ConsentLineError(offset: index - 1, reason: "expected ',' or '}'") }
                }
            }
            let end = index
            skipWhitespace()
            guard index == bytes.count else { throw ConsentLineError(offset: index, reason: "unexpected characters after the object") }
            guard let subject else { throw ConsentLineError(offset: end, reason: "missing \"subject\"") }
            guard let preferences else { throw ConsentLineError(offset: end, reason: "missing \"categoryPreferences\"") }
            return ConsentLine(subject: subject, preferences: preferences)
        }

        // MARK: - The two keys

        private mutating func parseSubject() throws(ConsentLineError) -> String {
            let offset = index
            guard peek() == UInt8(ascii: "\"") else { throw ConsentLineError(offset: offset, reason: "\"subject\" must be a string") }
            index += 1
            let subject = try makeString(try scanString(), at: offset)
            guard !subject.isEmpty else { throw ConsentLineError(offset: offset, reason: "\"subject\" is empty") }
            return subject
        }

        private mutating func parsePreferences() throws(ConsentLineError) -> [CategoryPreference] {
            guard peek() == UInt8(ascii: "{") else {
                throw ConsentLineError(offset: index, reason: "\"categoryPreferences\" must be an object of true/false values")
            }
            index += 1
            var result: [CategoryPreference] = []
            result.reserveCapacity(8)
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                return result
            }
            while true {
                skipWhitespace()
                let keyOffset = index
                try expect(UInt8(ascii: "\""), "expected a category string")
                let category = try makeString(try scanString(), at: keyOffset)
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "expected ':' after a category")
                skipWhitespace()
                let granted = try parseBool()
                try insertSorted(CategoryPreference(category: category, granted: granted), into: &result, at: keyOffset)
                skipWhitespace()
                guard let byte = peek() else { throw ConsentLineError(offset: index, reason: "unterminated categoryPreferences") }
                index += 1
                if byte == UInt8(ascii: "}") { return result }
                guard byte == UInt8(ascii: ",") else { throw ConsentLineError(offset: index - 1, reason: "expected ',' or '}'") }
            }
        }

        /// `true` or `false`, compared byte by byte (the hottest literal of a file).
        private mutating func parseBool() throws(ConsentLineError) -> Bool {
            let remaining = bytes.count - index
            if remaining >= 4, bytes[index] == UInt8(ascii: "t"), bytes[index + 1] == UInt8(ascii: "r"),
                bytes[index + 2] == UInt8(ascii: "u"), bytes[index + 3] == UInt8(ascii: "e")
            {
                index += 4
                return true
            }
            if remaining >= 5, bytes[index] == UInt8(ascii: "f"), bytes[index + 1] == UInt8(ascii: "a"),
                bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "s"), bytes[index + 4] == UInt8(ascii: "e")
            {
                index += 5
                return false
            }
            throw ConsentLineError(offset: index, reason: "category values must be true or false")
        }

        /// Keeps `result` sorted as ``ConsentRecord/normalized(_:)`` sorts (String `<`): a handful of
        /// categories per subject, so insertion beats sorting afterwards.
        private func insertSorted(
            _ preference: CategoryPreference, into result: inout [CategoryPreference], at offset: Int
        ) throws(ConsentLineError) {
            result.append(preference)
            var position = result.count - 1
            while position > 0 {
                let previous = result[position - 1].category
                if previous == preference.category {
                    throw ConsentLineError(offset: offset, reason: "repeated category in categoryPreferences")
                }
                if previous < preference.category { return }
                result.swapAt(position - 1, position)
                position -= 1
            }
        }

        // MARK: - Skipping other values

        private mutating func skipValue(depth: Int) throws(ConsentLineError) {
            guard depth <= ConsentLineParser.maxDepth else {
                throw ConsentLineError(offset: index, reason: "nesting deeper than \(ConsentLineParser.maxDepth)")
            }
            guard let byte = peek() else { throw ConsentLineError(offset: index, reason: "expected a value") }
            switch byte {
            case UInt8(ascii: "\""):
                let offset = index
                index += 1
                let span = try scanString()
                if span.hasEscapes || span.hasNonASCII { _ = try makeString(span, at: offset) }
            case UInt8(ascii: "{"):
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "}") {
                    index += 1
                    return
                }
                while true {
                    skipWhitespace()
                    let keyOffset = index
                    try expect(UInt8(ascii: "\""), "expected a key string")
                    let span = try scanString()
                    if span.hasEscapes || span.hasNonASCII { _ = try makeString(span, at: keyOffset) }
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "expected ':' after a key")
                    skipWhitespace()
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    guard let next = peek() else { throw ConsentLineError(offset: index, reason: "unterminated object") }
                    index += 1
                    if next == UInt8(ascii: "}") { return }
                    guard next == UInt8(ascii: ",") else { throw ConsentLineError(offset: index - 1, reason: "expected ',' or '}'") }
                }
            case UInt8(ascii: "["):
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                while true {
                    skipWhitespace()
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    guard let next = peek() else { throw ConsentLineError(offset: index, reason: "unterminated array") }
                    index += 1
                    if next == UInt8(ascii: "]") { return }
                    guard next == UInt8(ascii: ",") else { throw ConsentLineError(offset: index - 1, reason: "expected ',' or ']'") }
                }
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                guard matchesLiteral("true") || matchesLiteral("false") || matchesLiteral("null") else {
                    throw ConsentLineError(offset: index, reason: "expected a value")
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try skipNumber()
            default:
                throw ConsentLineError(offset: index, reason: "expected a value")
            }
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        private mutating func skipNumber() throws(ConsentLineError) {
            let start = index
            if peek() == UInt8(ascii: "-") { index += 1 }
            if peek() == UInt8(ascii: "0") {
                index += 1
            } else {
                guard skipDigits() else { throw ConsentLineError(offset: start, reason: "invalid number") }
            }
            if peek() == UInt8(ascii: ".") {
                index += 1
                guard skipDigits() else { throw ConsentLineError(offset: start, reason: "invalid number") }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                index += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
                guard skipDigits() else { throw ConsentLineError(offset: start, reason: "invalid number") }
            }
        }

        /// Skips `[0-9]+`; `false` when there is not one digit.
        private mutating func skipDigits() -> Bool {
            let start = index
            while let byte = peek(), byte &- UInt8(ascii: "0") < 10 { index += 1 }
            return index > start
        }

        // MARK: - Strings

        /// Scans a string after its opening quote, through its closing quote, checking escapes' shape
        /// (their values are checked by ``makeString(_:at:)``).
        private mutating func scanString() throws(ConsentLineError) -> StringSpan {
            let start = index
            var hasEscapes = false
            var hasNonASCII = false
            guard let base = bytes.baseAddress else { throw ConsentLineError(offset: start - 1, reason: "unterminated string") }
            while true {
                // Eight bytes at a time while none needs a closer look: most of a subject id.
                while index &+ 8 <= bytes.count, Self.specialBytes(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) == 0 {
                    index &+= 8
                }
                guard index < bytes.count else { throw ConsentLineError(offset: start - 1, reason: "unterminated string") }
                let byte = base[index]
                if byte == UInt8(ascii: "\"") {
                    defer { index += 1 }
                    return StringSpan(range: start..<index, hasEscapes: hasEscapes, hasNonASCII: hasNonASCII)
                }
                if byte == UInt8(ascii: "\\") {
                    hasEscapes = true
                    index += 2  // the escape letter is validated when decoding; it cannot be a lone quote
                    continue
                }
                if byte < 0x20 { throw ConsentLineError(offset: index, reason: "unescaped control character in a string") }
                if byte >= 0x80 { hasNonASCII = true }
                index += 1
            }
        }

        /// Flags the bytes of a word that need a closer look inside a string: `"`, `\`, < 0x20, >= 0x80.
        /// May flag more than those (borrows), never fewer: a flag only sends the scan byte by byte.
        @inline(__always)
        private static func specialBytes(_ word: UInt64) -> UInt64 {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let zeroQuote = (quote &- ones) & ~quote
            let zeroBackslash = (backslash &- ones) & ~backslash
            let control = (word &- ones &* 0x20) & ~word
            return (zeroQuote | zeroBackslash | control | word) & 0x8080_8080_8080_8080
        }

        /// Whether a key is `literal`: bytes compared directly unless the key has escapes.
        private func matches(_ span: StringSpan, _ literal: StaticString) throws(ConsentLineError) -> Bool {
            if span.hasEscapes {
                return try makeString(span, at: span.range.lowerBound - 1) == literal.description
            }
            let count = literal.utf8CodeUnitCount
            guard span.range.count == count else { return false }
            let literalBytes = UnsafeBufferPointer(start: literal.utf8Start, count: count)
            for offset in 0..<count where bytes[span.range.lowerBound + offset] != literalBytes[offset] {
                return false
            }
            return true
        }

        /// The string's value; refuses invalid escapes, unpaired surrogates and invalid UTF-8.
        private func makeString(_ span: StringSpan, at offset: Int) throws(ConsentLineError) -> String {
            let raw = UnsafeBufferPointer(rebasing: bytes[span.range])
            if !span.hasEscapes {
                if !span.hasNonASCII { return String(decoding: raw, as: UTF8.self) }
                guard let string = String(validating: raw, as: UTF8.self) else {
                    throw ConsentLineError(offset: offset, reason: "invalid UTF-8 in a string")
                }
                return string
            }
            var decoded: [UInt8] = []
            decoded.reserveCapacity(raw.count)
            var position = span.range.lowerBound
            while position < span.range.upperBound {
                let byte = bytes[position]
                guard byte == UInt8(ascii: "\\") else {
                    decoded.append(byte)
                    position += 1
                    continue
                }
                try decodeEscape(at: &position, into: &decoded)
            }
            guard let string = String(validating: decoded, as: UTF8.self) else {
                throw ConsentLineError(offset: offset, reason: "invalid UTF-8 in a string")
            }
            return string
        }

        /// Decodes the escape at `position` (its backslash) and moves past it.
        private func decodeEscape(at position: inout Int, into decoded: inout [UInt8]) throws(ConsentLineError) {
            let escapeOffset = position
            position += 1
            guard position < bytes.count else { throw ConsentLineError(offset: escapeOffset, reason: "unterminated escape") }
            let letter = bytes[position]
            position += 1
            switch letter {
            case UInt8(ascii: "\""): decoded.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): decoded.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): decoded.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var value = try hex4(at: &position, escapeOffset: escapeOffset)
                if (0xD800..<0xDC00).contains(value) {
                    // A high surrogate must be followed at once by an escaped low surrogate.
                    guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                        throw ConsentLineError(offset: escapeOffset, reason: "unpaired surrogate escape")
                    }
                    position += 2
                    let low = try hex4(at: &position, escapeOffset: escapeOffset)
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw ConsentLineError(offset: escapeOffset, reason: "unpaired surrogate escape")
                    }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(value) {
                    throw ConsentLineError(offset: escapeOffset, reason: "unpaired surrogate escape")
                }
                guard let scalar = Unicode.Scalar(value) else {
                    throw ConsentLineError(offset: escapeOffset, reason: "invalid unicode escape")
                }
                UTF8.encode(scalar) { decoded.append($0) }
            default:
                throw ConsentLineError(offset: escapeOffset, reason: "invalid escape")
            }
        }

        private func hex4(at position: inout Int, escapeOffset: Int) throws(ConsentLineError) -> UInt32 {
            guard bytes.count - position >= 4 else { throw ConsentLineError(offset: escapeOffset, reason: "truncated unicode escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw ConsentLineError(offset: escapeOffset, reason: "invalid hex digit in a unicode escape")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }

        // MARK: - Tokens

        private func peek() -> UInt8? {
            index < bytes.count ? bytes[index] : nil
        }

        private mutating func expect(_ byte: UInt8, _ reason: String) throws(ConsentLineError) {
            guard peek() == byte else { throw ConsentLineError(offset: index, reason: reason) }
            index += 1
        }

        private mutating func skipWhitespace() {
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A else { return }
                index += 1
            }
        }

        private mutating func matchesLiteral(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            let literalBytes = UnsafeBufferPointer(start: literal.utf8Start, count: count)
            for offset in 0..<count where bytes[index + offset] != literalBytes[offset] {
                return false
            }
            index += count
            return true
        }
    }
}
