/// Decoding and quoting of JSON strings: reads the values the scanner located, writes restamped keys.
public enum JSONString {
    /// The text of a scanned value: a string with its escapes decoded, a number as its raw text.
    ///
    /// A `ref` that does not lie inside `body` gives `""`. Escapes a successful scan would have refused
    /// (lone surrogates, bad hex) decode to U+FFFD or literally, never out of bounds.
    public static func decode(_ ref: ValueRef, in body: UnsafeRawBufferPointer) -> String {
        guard let (start, count) = content(of: ref, in: body) else { return "" }
        if ref.kind == .number || !ref.hasEscapes || count == 0 {
            return String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
        }
        // Unescaping never lengthens: every escape is at least as long as the UTF-8 it stands for.
        return String(unsafeUninitializedCapacity: count) { buffer in
            guard let out = buffer.baseAddress else { return 0 }
            return unescape(start, count: count, into: out)
        }
    }

    /// Whether the scanned value's text equals `literal`, byte for byte (no Unicode normalization).
    /// Allocates nothing unless the value holds escapes.
    public static func equals(_ ref: ValueRef, _ literal: String, in body: UnsafeRawBufferPointer) -> Bool {
        guard let (start, count) = content(of: ref, in: body) else { return false }
        if ref.kind == .string && ref.hasEscapes {
            return decode(ref, in: body).utf8.elementsEqual(literal.utf8)
        }
        let raw = UnsafeBufferPointer(start: start, count: count)
        let fast = literal.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.count == count && bytes.elementsEqual(raw)
        }
        return fast ?? literal.utf8.elementsEqual(raw)
    }

    /// Appends `s` as a JSON string, quotes included: `"`, `\` and control characters are escaped,
    /// everything else is written as UTF-8.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0x08: appendEscape(UInt8(ascii: "b"), to: &out)
            case 0x0C: appendEscape(UInt8(ascii: "f"), to: &out)
            case 0x0A: appendEscape(UInt8(ascii: "n"), to: &out)
            case 0x0D: appendEscape(UInt8(ascii: "r"), to: &out)
            case 0x09: appendEscape(UInt8(ascii: "t"), to: &out)
            case 0..<0x20:
                let hex: StaticString = "0123456789abcdef"
                appendEscape(UInt8(ascii: "u"), to: &out)
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "0"))
                out.append(hex.utf8Start[Int(b >> 4)])
                out.append(hex.utf8Start[Int(b & 0xF)])
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendEscape(_ letter: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(letter)
    }

    /// The value's text inside `body`: between the quotes for a string, the raw bytes for a number.
    static func content(of ref: ValueRef, in body: UnsafeRawBufferPointer) -> (UnsafePointer<UInt8>, Int)? {
        guard let range = contentRange(of: ref) else { return nil }
        guard range.lowerBound >= 0, range.upperBound <= body.count,
            let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return nil }
        return (base + range.lowerBound, range.count)
    }

    /// Where a value's text is in the body: a string's bytes between its quotes, a number's bytes.
    static func contentRange(of ref: ValueRef) -> Range<Int>? {
        guard ref.kind == .string else { return ref.range }
        guard ref.range.count >= 2 else { return nil }
        return (ref.range.lowerBound + 1)..<(ref.range.upperBound - 1)
    }

    /// Where a value's text is in the body when it needs no decoding (a number, or a string without
    /// escapes): its bytes are then exactly those of ``decode(_:in:)``'s result. `nil` otherwise.
    public static func verbatimRange(of ref: ValueRef) -> Range<Int>? {
        ref.kind == .string && ref.hasEscapes ? nil : contentRange(of: ref)
    }

    /// Unescapes a string's content into `out` (which holds at least `count` bytes); returns the bytes written.
    /// Every step consumes at least as many bytes as it writes, so `out` never overflows.
    static func unescape(_ src: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var i = 0
        var o = 0
        while i < count {
            let b = src[i]
            guard b == UInt8(ascii: "\\"), i + 1 < count else {
                out[o] = b
                o += 1
                i += 1
                continue
            }
            let letter = src[i + 1]
            var simple: UInt8?
            switch letter {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): simple = letter
            case UInt8(ascii: "b"): simple = 0x08
            case UInt8(ascii: "f"): simple = 0x0C
            case UInt8(ascii: "n"): simple = 0x0A
            case UInt8(ascii: "r"): simple = 0x0D
            case UInt8(ascii: "t"): simple = 0x09
            case UInt8(ascii: "u"):
                guard let unit = hex4(src, at: i + 2, count: count) else { break }
                var scalar = unit
                var consumed = 6
                if (0xD800...0xDBFF).contains(unit) {
                    if i + 12 <= count, src[i + 6] == UInt8(ascii: "\\"), src[i + 7] == UInt8(ascii: "u"),
                        let low = hex4(src, at: i + 8, count: count), (0xDC00...0xDFFF).contains(low)
                    {
                        scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        consumed = 12
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(unit) {
                    scalar = 0xFFFD
                }
                o += writeUTF8(scalar, to: out + o)
                i += consumed
                continue
            default:
                break
            }
            if let simple {
                out[o] = simple
                o += 1
                i += 2
            } else {
                // Not a valid escape: keep the backslash literally.
                out[o] = b
                o += 1
                i += 1
            }
        }
        return o
    }

    private static func hex4(_ src: UnsafePointer<UInt8>, at i: Int, count: Int) -> UInt32? {
        guard i + 4 <= count else { return nil }
        var value: UInt32 = 0
        for k in i..<(i + 4) {
            guard let digit = JSONCursor.hexValue(src[k]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    /// Writes a Unicode scalar (not a surrogate) as UTF-8; returns the byte count (1...4).
    private static func writeUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            out[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            out[0] = UInt8(0xC0 | scalar >> 6)
            out[1] = UInt8(0x80 | scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            out[0] = UInt8(0xE0 | scalar >> 12)
            out[1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[2] = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            out[0] = UInt8(0xF0 | scalar >> 18)
            out[1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            out[2] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[3] = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }
}
