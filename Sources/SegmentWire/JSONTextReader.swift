/// A strict, forward-only reader of JSON text for the small parsers outside the request path: a
/// store's preferences text (`PreferencesJSON`) and a line of a `consent import` file
/// (`ConsentLineParser`). They share its tokens, its strings (every escape, `\u` surrogate pairs, valid
/// UTF-8 only) and its validating skip of any value; each keeps its own grammar on top.
///
/// It has no JSON grammar of its own: strings, literals and skipped values are scanned by the request
/// path's ``JSONCursor`` and strings decoded by ``JSONString``, so the two readers cannot disagree on
/// what is valid JSON (they once did, on an empty container one level past the nesting limit).
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

    /// `true` or `false` (the hottest literal of an import file), read with ``JSONCursor/scanLiteral()``.
    package mutating func readBool(_ reason: String) throws(Failure) -> Bool {
        let offset = index
        let first = try? scan { cursor throws(WireError) in try cursor.scanLiteral() }
        switch first {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default:
            index = offset
            throw Failure(offset: offset, reason: reason)
        }
    }

    // MARK: - Strings

    /// Reads the string at the cursor (at its opening quote, else fails with `reason`) and decodes it.
    package mutating func readString(_ reason: String) throws(Failure) -> String {
        try expect(UInt8(ascii: "\""), reason)
        return makeString(try scanString())
    }

    /// Scans and validates a string whose opening quote is the byte just before the cursor (consumed
    /// with ``expect(_:_:)``), through its closing quote: every escape, surrogate pair and UTF-8
    /// sequence is checked here, by ``JSONCursor/scanString()``, so decoding it cannot fail.
    package mutating func scanString() throws(Failure) -> StringSpan {
        assert(index > 0 && bytes[index - 1] == UInt8(ascii: "\""), "scanString() follows an opening quote")
        index -= 1
        let start = index + 1
        let hasEscapes = try scan { cursor throws(WireError) in try cursor.scanString() }
        return StringSpan(range: start..<(index - 1), hasEscapes: hasEscapes)
    }

    /// Whether a scanned string is `literal`: bytes compared directly unless it has escapes.
    package func matches(_ span: StringSpan, _ literal: StaticString) -> Bool {
        if span.hasEscapes {
            return makeString(span).utf8.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        let count = literal.utf8CodeUnitCount
        guard span.range.count == count else { return false }
        let literalBytes = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        return UnsafeBufferPointer(rebasing: bytes[span.range]).elementsEqual(literalBytes)
    }

    /// A scanned string's value, its escapes decoded by the request path's ``JSONString/unescape(_:count:into:)``.
    package func makeString(_ span: StringSpan) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[span.range])
        guard span.hasEscapes, let start = raw.baseAddress else { return String(decoding: raw, as: UTF8.self) }
        // Unescaping never lengthens: every escape is at least as long as the UTF-8 it stands for.
        return String(unsafeUninitializedCapacity: raw.count) { buffer in
            guard let out = buffer.baseAddress else { return 0 }
            return JSONString.unescape(start, count: raw.count, into: out)
        }
    }

    // MARK: - Skipping values

    /// Validates and skips the value at the cursor; `depth` is the number of containers around it.
    /// An array or object may open only while fewer than `maxDepth` enclose it: this is
    /// ``JSONCursor/skipValue(depth:)``, the request path's own validator, so the two cannot disagree.
    package mutating func skipValue(depth: Int, maxDepth: Int) throws(Failure) {
        try scan(depth: depth, maxDepth: maxDepth) { cursor throws(WireError) in try cursor.skipValue(depth: depth) }
    }

    // MARK: - The shared grammar

    /// Runs `body` on a ``JSONCursor`` at ``index`` (with a nesting bit stack for `depth` + `maxDepth`)
    /// and moves ``index`` to where it stopped. A ``WireError`` becomes a ``Failure`` at the byte it names.
    private mutating func scan<T>(
        depth: Int = 0, maxDepth: Int = 0, _ body: (inout JSONCursor) throws(WireError) -> T
    ) throws(Failure) -> T {
        guard let base = bytes.baseAddress else { throw Failure(offset: index, reason: "unexpected end of document") }
        let words = JSONCursor.kindWords(count: bytes.count &+ depth, maxDepth: maxDepth)
        let start = index
        let result = withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { kinds in
            var cursor = JSONCursor(base: base, count: bytes.count, maxDepth: maxDepth, kinds: kinds.baseAddress!)
            cursor.pos = start
            return (Result { () throws(WireError) -> T in try body(&cursor) }, cursor.pos)
        }
        index = result.1
        switch result.0 {
        case .success(let value): return value
        case .failure(let error): throw Self.failure(error, at: index)
        }
    }

    /// The reason and offset of a cursor's error: its messages end in `at byte N` (``JSONCursor/invalid(_:at:)``),
    /// or name the end of the document, where `pos` stands.
    private static func failure(_ error: WireError, at pos: Int) -> Failure {
        let message = error.message
        let marker = " at byte"
        if let space = message.lastIndex(of: " "), let offset = Int(message[message.index(after: space)...]),
            message[..<space].hasSuffix(marker)
        {
            return Failure(offset: offset, reason: String(message[..<space].dropLast(marker.count)))
        }
        return Failure(offset: pos, reason: message)
    }
}
