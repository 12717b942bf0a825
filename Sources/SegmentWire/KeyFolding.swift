/// How a receiver that matches object keys case-insensitively reads a key: the reading of Go's
/// `encoding/json` (and `segmentio/encoding/json`), in which Segment's tracking API is written.
///
/// Go matches a JSON key to a struct field exactly first, else by `foldName`: every ASCII letter
/// upper-cased, every other rune replaced by the smallest rune of its `unicode.SimpleFold` orbit
/// (`encoding/json/fold.go`, Go 1.21+; the last matching key wins). Two runes outside ASCII fold onto
/// ASCII letters: U+017F LATIN SMALL LETTER LONG S (`ſ`, orbit {S, s, ſ}) and U+212A KELVIN SIGN
/// (`K`, orbit {K, k, K}). So `USERID`, `userid` and `uſerId` are all `userId` to Go, and none of
/// them is to a case-sensitive reader: consentgate must treat such a key as ambiguous.
public enum KeyFolding {
    /// Whether the bytes at `p` equal `name` ignoring ASCII case (the caller has checked the length).
    ///
    /// `name` must consist of ASCII letters only: then `b | 0x20 == n | 0x20` holds exactly when `b` is
    /// `n` in either case, so one OR per word folds a whole word at once.
    @inline(__always)
    static func equalIgnoringCase(_ p: UnsafePointer<UInt8>, _ name: StaticString) -> Bool {
        let key = UnsafeRawPointer(p)
        let expected = UnsafeRawPointer(name.utf8Start)
        let count = name.utf8CodeUnitCount
        func same<T: FixedWidthInteger>(_ offset: Int, _: T.Type, _ mask: T) -> Bool {
            key.loadUnaligned(fromByteOffset: offset, as: T.self) | mask
                == expected.loadUnaligned(fromByteOffset: offset, as: T.self) | mask
        }
        if count >= 8 {
            let mask: UInt64 = 0x2020_2020_2020_2020
            var i = 0
            while i &+ 8 < count {
                guard same(i, UInt64.self, mask) else { return false }
                i &+= 8
            }
            return same(count &- 8, UInt64.self, mask)
        }
        if count >= 4 {
            let mask: UInt32 = 0x2020_2020
            return same(0, UInt32.self, mask) && same(count &- 4, UInt32.self, mask)
        }
        for i in 0..<count where p[i] | 0x20 != name.utf8Start[i] | 0x20 { return false }
        return true
    }

    /// Rewrites UTF-8 `bytes` in place with the two non-ASCII runes that fold onto ASCII letters (`ſ`,
    /// `K`) replaced by those letters.
    /// - Returns: the new length, and whether a rune was replaced; `nil` when the bytes hold any other
    ///   non-ASCII rune (then no ASCII name can match them).
    static func foldOntoASCII(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) -> (count: Int, replaced: Bool)? {
        var read = 0
        var written = 0
        var replaced = false
        while read < count {
            let b = bytes[read]
            if b < 0x80 {
                bytes[written] = b
                read += 1
            } else if b == 0xC5, read + 1 < count, bytes[read + 1] == 0xBF {  // U+017F ſ
                bytes[written] = UInt8(ascii: "s")
                read += 2
                replaced = true
            } else if b == 0xE2, read + 2 < count, bytes[read + 1] == 0x84, bytes[read + 2] == 0xAA {  // U+212A K
                bytes[written] = UInt8(ascii: "k")
                read += 3
                replaced = true
            } else {
                return nil
            }
            written += 1
        }
        return (written, replaced)
    }

    /// A string's fold: two strings Go's `foldName` makes equal have equal folds.
    ///
    /// ASCII letters are lower-cased; any other scalar goes to its simple upper case, then that to its
    /// simple lower case, which lands every member of a simple-fold orbit on one scalar (`ſ`→`S`→`s`,
    /// `K`→`k`, `ς`→`Σ`→`σ`, `ẞ`→`ß`). `İ` and `ı` fold to themselves, as Go's orbit table says.
    public static func fold(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: s.utf8.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            out.append(foldScalar(scalar))
        }
        return String(out)
    }

    /// Whether two of `categories` are equal under ``fold(_:)`` (a stamp Go-reading receivers could
    /// match to one category either way).
    public static func hasFoldedDuplicate(_ categories: some Collection<String>) -> Bool {
        guard categories.count > 1 else { return false }
        if categories.count <= 16, categories.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) {
            // The usual stamp: a handful of ASCII categories, compared pair by pair without allocating.
            var rest = categories[...]
            while let first = rest.popFirst() {
                if rest.contains(where: { equalIgnoringASCIICase(first, $0) }) { return true }
            }
            return false
        }
        var seen = Set<String>(minimumCapacity: categories.count)
        for category in categories where !seen.insert(fold(category)).inserted { return true }
        return false
    }

    private static func equalIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count
            && a.utf8.elementsEqual(b.utf8) { x, y in (x &- 0x41 < 26 ? x | 0x20 : x) == (y &- 0x41 < 26 ? y | 0x20 : y) }
    }

    private static func foldScalar(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.value < 0x80 {
            return scalar.value &- 0x41 < 26 ? Unicode.Scalar(UInt8(scalar.value) | 0x20) : scalar
        }
        if scalar.value == 0x130 || scalar.value == 0x131 { return scalar }
        let upper = single(scalar.properties.uppercaseMapping) ?? scalar
        return single(upper.properties.lowercaseMapping) ?? upper
    }

    /// The one scalar of a case mapping; `nil` for a mapping to several (a full, not a simple, mapping).
    private static func single(_ mapping: String) -> Unicode.Scalar? {
        var scalars = mapping.unicodeScalars.makeIterator()
        guard let first = scalars.next(), scalars.next() == nil else { return nil }
        return first
    }
}
