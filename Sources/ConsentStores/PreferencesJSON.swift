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
                var parser = Parser(bytes: bytes)
                return try parser.parseObject()
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
            appendString(preference.category, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: preference.granted ? trueBytes : falseBytes)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    private static let trueBytes: [UInt8] = Array("true".utf8)
    private static let falseBytes: [UInt8] = Array("false".utf8)
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default:
                // Everything else, multi-byte UTF-8 included, is valid unescaped in a JSON string.
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension PreferencesJSON {
    /// A strict reader of `{"key":bool,...}` over UTF-8 bytes.
    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func parseObject() throws(DecodingError) -> [CategoryPreference] {
            skipWhitespace()
            try expect(UInt8(ascii: "{"), "expected '{'")
            var result: [CategoryPreference] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                index += 1
            } else {
                while true {
                    skipWhitespace()
                    let keyOffset = index
                    try expect(UInt8(ascii: "\""), "expected a category string")
                    let category = try parseStringBody()
                    if Self.contains(result, category) {
                        throw DecodingError(offset: keyOffset, reason: "repeated category")
                    }
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "expected ':'")
                    skipWhitespace()
                    let granted = try parseBool()
                    result.append(CategoryPreference(category: category, granted: granted))
                    skipWhitespace()
                    guard let byte = peek() else { throw DecodingError(offset: index, reason: "unterminated object") }
                    index += 1
                    if byte == UInt8(ascii: "}") { break }
                    guard byte == UInt8(ascii: ",") else {
                        throw DecodingError(offset: index - 1, reason: "expected ',' or '}'")
                    }
                }
            }
            skipWhitespace()
            guard index == bytes.count else { throw DecodingError(offset: index, reason: "trailing characters") }
            return result
        }

        /// Few categories per subject: a linear scan beats hashing until the object gets large.
        private static func contains(_ preferences: [CategoryPreference], _ category: String) -> Bool {
            preferences.contains { $0.category == category }
        }

        private func peek() -> UInt8? {
            index < bytes.count ? bytes[index] : nil
        }

        private mutating func expect(_ byte: UInt8, _ reason: String) throws(DecodingError) {
            guard peek() == byte else { throw DecodingError(offset: index, reason: reason) }
            index += 1
        }

        private mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                index += 1
            }
        }

        private mutating func parseBool() throws(DecodingError) -> Bool {
            if matches("true") { return true }
            if matches("false") { return false }
            throw DecodingError(offset: index, reason: "expected true or false")
        }

        private mutating func matches(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            let literalBytes = UnsafeBufferPointer(start: literal.utf8Start, count: count)
            for offset in 0..<count where bytes[index + offset] != literalBytes[offset] {
                return false
            }
            index += count
            return true
        }

        /// Reads a string after its opening quote, through its closing quote.
        private mutating func parseStringBody() throws(DecodingError) -> String {
            let start = index
            // Fast path: no escapes, the bytes between the quotes are the string.
            while let byte = peek() {
                if byte == UInt8(ascii: "\"") {
                    let string = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return string
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw DecodingError(offset: index, reason: "unescaped control character in string") }
                index += 1
            }
            guard peek() != nil else { throw DecodingError(offset: index, reason: "unterminated string") }
            var decoded = Array(bytes[start..<index])
            while let byte = peek() {
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(decoding: decoded, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    index += 1
                    try parseEscape(into: &decoded)
                case 0x00..<0x20:
                    throw DecodingError(offset: index, reason: "unescaped control character in string")
                default:
                    decoded.append(byte)
                    index += 1
                }
            }
            throw DecodingError(offset: index, reason: "unterminated string")
        }

        private mutating func parseEscape(into decoded: inout [UInt8]) throws(DecodingError) {
            guard let byte = peek() else { throw DecodingError(offset: index, reason: "unterminated escape") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""): decoded.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): decoded.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): decoded.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                let escapeOffset = index - 2
                var value = UInt32(try parseHex4())
                if (0xD800..<0xDC00).contains(value) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard matches("\\u") else {
                        throw DecodingError(offset: escapeOffset, reason: "unpaired surrogate escape")
                    }
                    let low = UInt32(try parseHex4())
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw DecodingError(offset: escapeOffset, reason: "unpaired surrogate escape")
                    }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(value) {
                    throw DecodingError(offset: escapeOffset, reason: "unpaired surrogate escape")
                }
                guard let scalar = Unicode.Scalar(value) else {
                    throw DecodingError(offset: escapeOffset, reason: "invalid unicode escape")
                }
                UTF8.encode(scalar) { decoded.append($0) }
            default:
                throw DecodingError(offset: index - 1, reason: "invalid escape")
            }
        }

        private mutating func parseHex4() throws(DecodingError) -> UInt16 {
            guard bytes.count - index >= 4 else { throw DecodingError(offset: index, reason: "truncated unicode escape") }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw DecodingError(offset: index, reason: "invalid hex digit in unicode escape")
                }
                value = value << 4 | UInt16(digit)
                index += 1
            }
            return value
        }
    }
}
