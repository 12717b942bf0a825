/// A validating RFC 8259 cursor over a JSON document in raw memory.
///
/// It knows tokens (strings, numbers, literals, white space) and can skip any value while validating it,
/// without recursion: nesting is tracked in a caller-provided bit stack, one bit per depth
/// (1 = object, 0 = array), so 100 000 nested `[` cost no call stack and stop at `maxDepth`.
/// It never allocates; errors name what went wrong and the byte offset, never payload bytes.
struct JSONCursor {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos: Int
    let maxDepth: Int
    /// One bit per nesting depth, for ``skipValue(depth:)``; at least `min(maxDepth, end) / 64 + 1` words.
    let kinds: UnsafeMutablePointer<UInt64>

    init(base: UnsafePointer<UInt8>, count: Int, maxDepth: Int, kinds: UnsafeMutablePointer<UInt64>) {
        self.base = base
        self.end = count
        self.pos = 0
        self.maxDepth = maxDepth
        self.kinds = kinds
    }

    /// The number of bit-stack words a document of `count` bytes needs (a depth can't exceed the byte count).
    static func kindWords(count: Int, maxDepth: Int) -> Int {
        max(0, min(maxDepth, count)) / 64 + 2
    }

    // MARK: Errors (kept out of line so the hot paths stay small)

    @inline(never)
    func invalid(_ what: StaticString, at offset: Int) -> WireError {
        WireError(.invalidJSON, "\(what) at byte \(offset)")
    }

    @inline(never)
    func tooDeep(at offset: Int) -> WireError {
        WireError(.nestingTooDeep, "arrays and objects nested deeper than \(maxDepth) at byte \(offset)")
    }

    /// The error for the byte at `pos` where a value, key, comma or bracket was expected.
    @inline(never)
    func unexpected(expecting what: StaticString) -> WireError {
        if pos >= end { return WireError(.invalidJSON, "unexpected end of document, expected \(what)") }
        return WireError(.invalidJSON, "unexpected byte, expected \(what) at byte \(pos)")
    }

    // MARK: White space

    /// Skips JSON white space (space, tab, LF, CR only).
    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let b = base[pos]
            guard b <= 0x20, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            pos &+= 1
            // Pretty-printed indentation: eight spaces at a time.
            while pos &+ 8 <= end, UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self) == 0x2020_2020_2020_2020 {
                pos &+= 8
            }
        }
    }

    /// The byte at the cursor after white space, or `nil` at the end of the document.
    @inline(__always)
    mutating func peekToken() -> UInt8? {
        skipWhitespace()
        return pos < end ? base[pos] : nil
    }

    /// Whether `range` holds only white space.
    static func isBlank(_ base: UnsafePointer<UInt8>, _ range: Range<Int>) -> Bool {
        for i in range {
            let b = base[i]
            if b != 0x20 && b != 0x0A && b != 0x0D && b != 0x09 { return false }
        }
        return true
    }

    /// Whether `count` bytes at `a` and `b` are equal (eight at a time).
    @inline(__always)
    static func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> Bool {
        var i = 0
        while i &+ 8 <= count {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self)
            if x != y { return false }
            i &+= 8
        }
        while i < count {
            if a[i] != b[i] { return false }
            i &+= 1
        }
        return true
    }

    // MARK: Strings

    /// Bytes of a little-endian word that need a closer look inside a string: `"`, `\`, < 0x20, >= 0x80.
    /// Only the lowest flagged byte is exact (borrows can flag bytes above it), which is all we use.
    @inline(__always)
    static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        let control = (w &- ones &* 0x20) & ~w
        return (zeroQuote | zeroBackslash | control | w) & 0x8080_8080_8080_8080
    }

    /// What a string holds besides printable ASCII, as ``scanStringShape()`` found it.
    struct StringShape: OptionSet {
        let rawValue: UInt8
        /// Backslash escapes: the text must be decoded before it is compared.
        static let escaped = StringShape(rawValue: 1)
        /// Bytes of 0x80 or above (valid UTF-8): letters that may fold onto ASCII ones.
        static let nonASCII = StringShape(rawValue: 2)
    }

    /// Scans and validates the string at the cursor (which is at its opening quote) and moves past it.
    /// - Returns: whether the string holds backslash escapes.
    @inline(__always)
    mutating func scanString() throws(WireError) -> Bool {
        try scanStringShape().contains(.escaped)
    }

    /// Scans and validates the string at the cursor like ``scanString()``.
    /// - Returns: whether it holds escapes and whether it holds non-ASCII bytes.
    @inline(__always)
    mutating func scanStringShape() throws(WireError) -> StringShape {
        let start = pos
        var i = pos &+ 1
        var shape: StringShape = []
        while true {
            // Eight bytes at a time while nothing needs a closer look (the common ASCII case).
            while i &+ 8 <= end {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                let special = Self.specialBytes(word)
                if special == 0 {
                    i &+= 8
                    continue
                }
                i &+= special.trailingZeroBitCount &>> 3
                break
            }
            guard i < end else { throw invalid("unterminated string starting", at: start) }
            let b = base[i]
            if b == UInt8(ascii: "\"") {
                pos = i &+ 1
                return shape
            } else if b == UInt8(ascii: "\\") {
                shape.insert(.escaped)
                i = try scanEscape(at: i)
            } else if b < 0x20 {
                throw invalid("unescaped control character in string", at: i)
            } else if b >= 0x80 {
                shape.insert(.nonASCII)
                i = try scanUTF8(at: i)
            } else {
                i &+= 1
            }
        }
    }

    /// Validates the escape whose backslash is at `i`; returns the index after it.
    /// A `\u` high surrogate must be followed by a `\u` low surrogate; a lone surrogate is invalid.
    mutating func scanEscape(at i: Int) throws(WireError) -> Int {
        let j = i &+ 1
        guard j < end else { throw invalid("unterminated escape", at: i) }
        switch base[j] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return j &+ 1
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: j &+ 1) else { throw invalid("invalid \\u escape", at: i) }
            switch unit {
            case 0xD800...0xDBFF:
                let k = j &+ 5
                guard k &+ 6 <= end, base[k] == UInt8(ascii: "\\"), base[k &+ 1] == UInt8(ascii: "u"),
                    let low = hex4(at: k &+ 2), (0xDC00...0xDFFF).contains(low)
                else { throw invalid("unpaired high surrogate escape", at: i) }
                return k &+ 6
            case 0xDC00...0xDFFF:
                throw invalid("unpaired low surrogate escape", at: i)
            default:
                return j &+ 5
            }
        default:
            throw invalid("invalid escape", at: i)
        }
    }

    /// The value of four hex digits at `i`, or `nil`.
    @inline(__always)
    func hex4(at i: Int) -> UInt32? {
        guard i &+ 4 <= end else { return nil }
        var value: UInt32 = 0
        for k in i..<(i &+ 4) {
            guard let digit = JSONCursor.hexValue(base[k]) else { return nil }
            value = value &<< 4 | digit
        }
        return value
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b &- UInt8(ascii: "A") &+ 10)
        default: nil
        }
    }

    /// Validates the multi-byte UTF-8 sequence whose lead byte is at `i`; returns the index after it.
    /// Rejects overlong forms, UTF-16 surrogates, code points above U+10FFFF and truncated sequences.
    mutating func scanUTF8(at i: Int) throws(WireError) -> Int {
        let lead = base[i]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw invalid("invalid UTF-8", at: i)
        }
        guard i &+ length <= end else { throw invalid("truncated UTF-8 sequence", at: i) }
        let second = base[i &+ 1]
        guard second >= low, second <= high else { throw invalid("invalid UTF-8", at: i) }
        var k = i &+ 2
        while k < i &+ length {
            guard base[k] & 0xC0 == 0x80 else { throw invalid("invalid UTF-8", at: i) }
            k &+= 1
        }
        return k
    }

    // MARK: Numbers and literals

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    /// Scans and validates the number at the cursor (RFC 8259 grammar) and moves past it.
    mutating func scanNumber() throws(WireError) {
        let start = pos
        var i = pos
        if base[i] == UInt8(ascii: "-") { i &+= 1 }
        guard i < end, Self.isDigit(base[i]) else { throw invalid("invalid number", at: start) }
        if base[i] == UInt8(ascii: "0") {
            i &+= 1
            if i < end, Self.isDigit(base[i]) { throw invalid("number with a leading zero", at: start) }
        } else {
            i &+= 1
            while i < end, Self.isDigit(base[i]) { i &+= 1 }
        }
        if i < end, base[i] == UInt8(ascii: ".") {
            i &+= 1
            guard i < end, Self.isDigit(base[i]) else { throw invalid("number without digits after the point", at: start) }
            while i < end, Self.isDigit(base[i]) { i &+= 1 }
        }
        if i < end, base[i] | 0x20 == UInt8(ascii: "e") {
            i &+= 1
            if i < end, base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-") { i &+= 1 }
            guard i < end, Self.isDigit(base[i]) else { throw invalid("number without exponent digits", at: start) }
            while i < end, Self.isDigit(base[i]) { i &+= 1 }
        }
        pos = i
    }

    /// Scans the literal `true`, `false` or `null` at the cursor; returns the literal's first byte.
    @inline(__always)
    mutating func scanLiteral() throws(WireError) -> UInt8 {
        // The common cases in four-byte loads: `true`, `null`, `fals` + `e`.
        if pos &+ 4 <= end {
            let word = UInt32(littleEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt32.self))
            if word == 0x6575_7274 || word == 0x6C6C_756E {  // "true", "null"
                defer { pos &+= 4 }
                return base[pos]
            }
            if word == 0x736C_6166, pos &+ 5 <= end, base[pos &+ 4] == UInt8(ascii: "e") {  // "fals"
                pos &+= 5
                return UInt8(ascii: "f")
            }
        }
        return try scanLiteralSlowly()
    }

    /// ``scanLiteral()`` byte by byte, which also names the error.
    mutating func scanLiteralSlowly() throws(WireError) -> UInt8 {
        let first = base[pos]
        let word: StaticString
        switch first {
        case UInt8(ascii: "t"): word = "true"
        case UInt8(ascii: "f"): word = "false"
        case UInt8(ascii: "n"): word = "null"
        default: throw unexpected(expecting: "a value")
        }
        let length = word.utf8CodeUnitCount
        guard pos &+ length <= end else { throw invalid("invalid literal", at: pos) }
        let expected = word.utf8Start
        for k in 1..<length where base[pos &+ k] != expected[k] {
            throw invalid("invalid literal", at: pos)
        }
        pos &+= length
        return first
    }

    // MARK: Values

    /// Scans any scalar (string, number, literal) at the cursor.
    @inline(__always)
    mutating func scanScalar() throws(WireError) {
        guard pos < end else { throw unexpected(expecting: "a value") }
        switch base[pos] {
        case UInt8(ascii: "\""): _ = try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try scanNumber()
        default: _ = try scanLiteral()
        }
    }

    /// Validates and skips the value at the cursor (white space already skipped).
    /// - Parameter depth: the number of arrays and objects that enclose the value.
    @inline(__always)
    mutating func skipValue(depth: Int) throws(WireError) {
        if pos < end, base[pos] | 0x20 == UInt8(ascii: "{") {  // `{` or `[` (0x7B, 0x5B)
            try skipContainer(depth: depth)
        } else {
            try scanScalar()
        }
    }

    @inline(__always)
    func isObject(_ depth: Int) -> Bool {
        kinds[depth &>> 6] & (1 &<< UInt64(depth & 63)) != 0
    }

    @inline(__always)
    func setKind(_ depth: Int, object: Bool) {
        let bit: UInt64 = 1 &<< UInt64(depth & 63)
        if object { kinds[depth &>> 6] |= bit } else { kinds[depth &>> 6] &= ~bit }
    }

    /// Validates and skips the array or object at the cursor, iteratively.
    mutating func skipContainer(depth outer: Int) throws(WireError) {
        var depth = outer
        var opening = base[pos]
        while true {
            // Open a container (`opening` is at the cursor).
            depth &+= 1
            guard depth <= maxDepth else { throw tooDeep(at: pos) }
            let object = opening == UInt8(ascii: "{")
            setKind(depth, object: object)
            pos &+= 1
            guard var b = peekToken() else { throw unexpected(expecting: "a value or a closing bracket") }
            // `afterValue`: a value (or a whole container) just ended at `depth`.
            var afterValue = false
            if b == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                pos &+= 1
                depth &-= 1
                afterValue = true
            }

            // Members or elements until one opens a nested container, or the outermost container closes.
            slots: while true {
                if !afterValue {
                    if isObject(depth) {
                        guard b == UInt8(ascii: "\"") else { throw unexpected(expecting: "a key string") }
                        _ = try scanString()
                        guard peekToken() == UInt8(ascii: ":") else { throw unexpected(expecting: "':'") }
                        pos &+= 1
                        guard let v = peekToken() else { throw unexpected(expecting: "a value") }
                        b = v
                    }
                    if b | 0x20 == UInt8(ascii: "{") {
                        opening = b
                        break slots
                    }
                    try scanScalar()
                }
                while true {
                    if depth == outer { return }
                    guard let c = peekToken() else { throw unexpected(expecting: "',' or a closing bracket") }
                    if c == UInt8(ascii: ",") {
                        pos &+= 1
                        guard let next = peekToken() else { throw unexpected(expecting: "a value") }
                        if next == UInt8(ascii: "]") || next == UInt8(ascii: "}") {
                            throw invalid("trailing comma", at: pos)
                        }
                        b = next
                        afterValue = false
                        continue slots
                    }
                    guard c == (isObject(depth) ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                        throw unexpected(expecting: "',' or a closing bracket")
                    }
                    pos &+= 1
                    depth &-= 1
                }
            }
        }
    }
}
