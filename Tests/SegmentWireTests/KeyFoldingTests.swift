import Testing

@testable import SegmentWire

/// ``KeyFolding`` against the folding of Go's `encoding/json` (`foldName`: ASCII letters upper-cased,
/// other runes to the smallest of their `unicode.SimpleFold` orbit).
@Suite struct KeyFoldingTests {
    @Test(arguments: [
        ("userId", "userid"), ("USERID", "userid"), ("uſerId", "userid"), ("writeKey", "writeKey"), ("write\u{212A}ey", "writekey"),
        ("Analytics", "ANALYTICS"), ("straße", "STRAẞE"), ("ΣΊΣΥΦΟΣ", "σίσυφος"), ("ς", "σ"), ("µ", "μ"), ("Å", "å"),
    ])
    func foldsAsGoDoes(_ a: String, _ b: String) {
        #expect(KeyFolding.fold(a) == KeyFolding.fold(b))
    }

    /// Go's orbit table keeps `İ` and `ı` apart from `i` and `I`; other letters stay apart too.
    @Test(arguments: [("İ", "i"), ("ı", "i"), ("ı", "I"), ("İ", "I"), ("userId", "user_id"), ("ß", "ss"), ("Ａ", "A")])
    func keepsApartWhatGoKeepsApart(_ a: String, _ b: String) {
        #expect(KeyFolding.fold(a) != KeyFolding.fold(b))
    }

    @Test func comparesIgnoringCaseOnlyForLetters() {
        func equal(_ key: String, _ name: StaticString) -> Bool {
            Array(key.utf8).withUnsafeBufferPointer { KeyFolding.equalIgnoringCase($0.baseAddress!, name) }
        }
        #expect(equal("USERID", "userId"))
        #expect(equal("categorypreferences", "categoryPreferences"))
        #expect(equal("TYPE", "type"))
        #expect(!equal("typ@", "type"))  // '@' | 0x20 is '`', not a letter
        #expect(!equal("userI\u{44}", "userIt"))
    }

    @Test func foldsTheTwoRunesThatLandOnASCII() {
        func folded(_ key: String) -> String? {
            var bytes = Array(key.utf8)
            return bytes.withUnsafeMutableBufferPointer { buffer in
                KeyFolding.foldOntoASCII(buffer.baseAddress!, count: buffer.count).map {
                    String(decoding: UnsafeBufferPointer(start: buffer.baseAddress!, count: $0.count), as: UTF8.self)
                }
            }
        }
        #expect(folded("uſerId") == "userId")
        #expect(folded("write\u{212A}ey") == "writekey")
        #expect(folded("plain") == "plain")
        #expect(folded("usérId") == nil)
    }

    @Test func findsFoldedDuplicatesAmongCategories() {
        #expect(KeyFolding.hasFoldedDuplicate(["Analytics", "analytics"]))
        #expect(KeyFolding.hasFoldedDuplicate(["Advertiſing", "Advertising", "X"]))
        #expect(!KeyFolding.hasFoldedDuplicate(["Advertising", "Analytics"]))
        #expect(!KeyFolding.hasFoldedDuplicate(["A"]))
    }
}
