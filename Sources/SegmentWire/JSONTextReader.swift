/// A strict, forward-only reader of JSON text for the small parsers outside the request path: a
/// store's preferences text (`PreferencesJSON`) and a line of a `consent import` file
/// (`ConsentLineParser`). They share its tokens, its strings (every escape, `\u` surrogate pairs, valid
/// UTF-8 only) and its validating skip of any value; each keeps its own grammar on top.
///
/// Errors carry a byte offset and a reason, never the text (it may hold a subject id).
package struct JSONTextReader {
    /// Why reading stopped: where (a byte offset into ``bytes``) and what was wrong there.
    package struct Failure: Error, Sendable, Hashable {
        package var offset: Int
        package var reason: String

        package init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }
    }

    /// Where a string's content lies, and whether it can be taken as is.
    package struct StringSpan {
        package var range: Range<Int>
        package var hasEscapes: Bool
        package var hasNonASCII: Bool
    }

    package let bytes: UnsafeBufferPointer<UInt8>
    package var index = 0

    package init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    // MARK: - Tokens

    package func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    package mutating func expect(_ byte: UInt8, _ reason: String) throws(Failure) {
        guard peek() == byte else { throw Failure(offset: index, reason: reason) }
        index += 1
    }

    /// Skips JSON white space (space, tab, CR, LF only).
    package mutating func skipWhitespace() {
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A else { return }
            index += 1
        }
    }

    /// Moves past `literal` if the text continues with it.
    package mutating func matchesLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let literalBytes = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for offset in 0..<count where bytes[index + offset] != literalBytes[offset] {
            return false
        }
        index += count
        return true
    }

    /// `true` or `false`, compared byte by byte (the hottest literal of an import file).
    package mutating func readBool(_ reason: String) throws(Failure) -> Bool {
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
        throw Failure(offset: index, reason: reason)
    }

    // MARK: - Strings

    /// Reads the string at the cursor (at its opening quote, else fails with `reason`) and decodes it.
    package mutating func readString(_ reason: String) throws(Failure) -> String {
        let offset = index
        try expect(UInt8(ascii: "\""), reason)
        return try makeString(try scanString(), at: offset)
    }

    /// Scans a string after its opening quote, through its closing quote, checking escapes' shape
    /// (their values are checked by ``makeString(_:at:)``).
    package mutating func scanString() throws(Failure) -> StringSpan {
        let start = index
        var hasEscapes = false
        var hasNonASCII = false
        guard let base = bytes.baseAddress else { throw Failure(offset: start - 1, reason: "unterminated string") }
        while true {
            // Eight bytes at a time while none needs a closer look: most of a subject id.
            while index &+ 8 <= bytes.count, JSONCursor.specialBytes(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) == 0 {
                index &+= 8
            }
            guard index < bytes.count else { throw Failure(offset: start - 1, reason: "unterminated string") }
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
            if byte < 0x20 { throw Failure(offset: index, reason: "unescaped control character in a string") }
            if byte >= 0x80 { hasNonASCII = true }
            index += 1
        }
    }

    /// Whether a scanned string is `literal`: bytes compared directly unless it has escapes.
    package func matches(_ span: StringSpan, _ literal: StaticString) throws(Failure) -> Bool {
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

    /// A scanned string's value; refuses invalid escapes, unpaired surrogates and invalid UTF-8
    /// (reported at `offset`, the string's opening quote, or at the escape).
    package func makeString(_ span: StringSpan, at offset: Int) throws(Failure) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[span.range])
        if !span.hasEscapes {
            if !span.hasNonASCII { return String(decoding: raw, as: UTF8.self) }
            guard let string = String(validating: raw, as: UTF8.self) else {
                throw Failure(offset: offset, reason: "invalid UTF-8 in a string")
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
            throw Failure(offset: offset, reason: "invalid UTF-8 in a string")
        }
        return string
    }

    /// Decodes the escape at `position` (its backslash) and moves past it.
    private func decodeEscape(at position: inout Int, into decoded: inout [UInt8]) throws(Failure) {
        let escapeOffset = position
        position += 1
        guard position < bytes.count else { throw Failure(offset: escapeOffset, reason: "unterminated escape") }
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
                    throw Failure(offset: escapeOffset, reason: "unpaired surrogate escape")
                }
                position += 2
                let low = try hex4(at: &position, escapeOffset: escapeOffset)
                guard (0xDC00..<0xE000).contains(low) else {
                    throw Failure(offset: escapeOffset, reason: "unpaired surrogate escape")
                }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(value) {
                throw Failure(offset: escapeOffset, reason: "unpaired surrogate escape")
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw Failure(offset: escapeOffset, reason: "invalid unicode escape")
            }
            UTF8.encode(scalar) { decoded.append($0) }
        default:
            throw Failure(offset: escapeOffset, reason: "invalid escape")
        }
    }

    private func hex4(at position: inout Int, escapeOffset: Int) throws(Failure) -> UInt32 {
        guard bytes.count - position >= 4 else { throw Failure(offset: escapeOffset, reason: "truncated unicode escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Failure(offset: escapeOffset, reason: "invalid hex digit in a unicode escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    // MARK: - Skipping values

    /// Validates and skips the value at the cursor; `depth` is the number of containers around it.
    /// An array or object may open only while fewer than `maxDepth` enclose it, as in ``JSONCursor``:
    /// the limit counts containers, an empty one included.
    package mutating func skipValue(depth: Int, maxDepth: Int) throws(Failure) {
        guard let byte = peek() else { throw Failure(offset: index, reason: "expected a value") }
        if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
            guard depth < maxDepth else { throw Failure(offset: index, reason: "nesting deeper than \(maxDepth)") }
        }
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
                try skipValue(depth: depth + 1, maxDepth: maxDepth)
                skipWhitespace()
                guard let next = peek() else { throw Failure(offset: index, reason: "unterminated object") }
                index += 1
                if next == UInt8(ascii: "}") { return }
                guard next == UInt8(ascii: ",") else { throw Failure(offset: index - 1, reason: "expected ',' or '}'") }
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
                try skipValue(depth: depth + 1, maxDepth: maxDepth)
                skipWhitespace()
                guard let next = peek() else { throw Failure(offset: index, reason: "unterminated array") }
                index += 1
                if next == UInt8(ascii: "]") { return }
                guard next == UInt8(ascii: ",") else { throw Failure(offset: index - 1, reason: "expected ',' or ']'") }
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            guard matchesLiteral("true") || matchesLiteral("false") || matchesLiteral("null") else {
                throw Failure(offset: index, reason: "expected a value")
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
        default:
            throw Failure(offset: index, reason: "expected a value")
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func skipNumber() throws(Failure) {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        if peek() == UInt8(ascii: "0") {
            index += 1
        } else {
            guard skipDigits() else { throw Failure(offset: start, reason: "invalid number") }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() else { throw Failure(offset: start, reason: "invalid number") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() else { throw Failure(offset: start, reason: "invalid number") }
        }
    }

    /// Skips `[0-9]+`; `false` when there is not one digit.
    private mutating func skipDigits() -> Bool {
        let start = index
        while let byte = peek(), byte &- UInt8(ascii: "0") < 10 { index += 1 }
        return index > start
    }
}
