import Testing

@testable import ConsentCore

/// A key's bytes inside its cache slot: up to 39 of them, compared exactly.
@Suite struct InlineKeyTests {
    private func inline(_ key: String) -> InlineKey? {
        Array(key.utf8).withUnsafeBytes { InlineKey($0) }
    }

    private func equals(_ inline: InlineKey, _ key: String) -> Bool {
        Array(key.utf8).withUnsafeBytes { inline.equals($0) }
    }

    @Test func keysUpTo39BytesAreHeldAndGivenBack() throws {
        for key in ["", "a", "0f8fad5b-d9cb-469f-a165-70867728950e", String(repeating: "x", count: 39), "caf\u{E9}"] {
            let held = try #require(inline(key))
            #expect(!held.isFree && !held.isLong)
            #expect(held.withBytes { String(keyBytes: $0) } == key)
            #expect(equals(held, key))
        }
    }

    @Test func aLongerKeyIsNotHeldInline() {
        #expect(inline(String(repeating: "x", count: 40)) == nil)
        #expect(InlineKey.long.isLong && !InlineKey.long.isFree)
        #expect(InlineKey.free.isFree && !InlineKey.free.isLong)
    }

    @Test func comparesEveryByteAndTheLength() throws {
        let held = try #require(inline("user-1234"))
        #expect(!equals(held, "user-1235"))
        #expect(!equals(held, "xser-1234"))
        #expect(!equals(held, "user-123"))
        #expect(!equals(held, "user-12345"))
        let composed = try #require(inline("caf\u{E9}"))
        #expect(!equals(composed, "cafe\u{301}"))
        let empty = try #require(inline(""))
        #expect(equals(empty, "") && !equals(empty, "a"))
    }

    @Test func freeAndLongSlotsMatchNoKey() {
        // Their marker byte (254, 255) is not a length up to 39: no key matches it, not even one of
        // the marker's length.
        for key in ["", "a", String(repeating: "y", count: 39), String(repeating: "z", count: 254), String(repeating: "z", count: 255),
            // NUL bytes, like the unused bytes of a marker's storage.
            String(repeating: "\0", count: 254), String(repeating: "\0", count: 255),
        ] {
            #expect(!equals(.free, key))
            #expect(!equals(.long, key))
        }
    }
}
