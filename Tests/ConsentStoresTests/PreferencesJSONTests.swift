import ConsentCore
import ConsentStores
import Foundation
import SegmentWire
import Testing
import WireTestSupport

struct PreferencesJSONTests {
    private func prefs(_ pairs: [(String, Bool)]) -> [CategoryPreference] {
        pairs.map { CategoryPreference(category: $0.0, granted: $0.1) }
    }

    @Test func encodesCanonicalSortedCompactObject() {
        let json = PreferencesJSON.encode(prefs([("Analytics", true), ("Advertising", false)]))
        #expect(json == #"{"Advertising":false,"Analytics":true}"#)
    }

    @Test func encodesEmptyObject() {
        #expect(PreferencesJSON.encode([CategoryPreference]()) == "{}")
    }

    @Test func encodingKeepsTheLastOfARepeatedCategory() {
        let json = PreferencesJSON.encode(prefs([("B", true), ("A", true), ("B", false)]))
        #expect(json == #"{"A":true,"B":false}"#)
    }

    @Test func encodesEscapesMinimally() {
        let json = PreferencesJSON.encode(prefs([("q\"b\\s/\n\r\t\u{08}\u{0C}\u{00}\u{1F}é😀\u{2028}", true)]))
        #expect(json == #"{"q\"b\\s/\n\r\t\b\f\u0000\u001fé😀"# + "\u{2028}" + #"":true}"#)
    }

    @Test func decodesInDocumentOrder() throws {
        let decoded = try PreferencesJSON.decode(#"{"b":true,"a":false}"#)
        #expect(decoded == prefs([("b", true), ("a", false)]))
    }

    @Test func decodesWhitespaceAndEmptyObjects() throws {
        #expect(try PreferencesJSON.decode("{}").isEmpty)
        #expect(try PreferencesJSON.decode(" \n{ \t}\r\n").isEmpty)
        #expect(try PreferencesJSON.decode(" { \"a\" : true , \"b\":\tfalse } ") == prefs([("a", true), ("b", false)]))
    }

    @Test func decodesEscapes() throws {
        let decoded = try PreferencesJSON.decode(#"{"\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00\u0000":true}"#)
        #expect(decoded == prefs([("\"\\/\u{08}\u{0C}\n\r\tAé€😀\u{00}", true)]))
    }

    @Test func decodesRawUnicode() throws {
        #expect(try PreferencesJSON.decode(#"{"Widerspruch ✓ 例え 😀":false}"#) == prefs([("Widerspruch ✓ 例え 😀", false)]))
    }

    @Test(arguments: [
        "",
        " ",
        "[]",
        "null",
        "{",
        "}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":true",
        "{\"a\":true,}",
        "{,\"a\":true}",
        "{\"a\":1}",
        "{\"a\":\"true\"}",
        "{\"a\":null}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":True}",
        "{a:true}",
        "{'a':true}",
        "{\"a\":true}x",
        "{\"a\":true}{}",
        "{\"a\":true \"b\":false}",
        "{\"a\":true,\"a\":false}",
        "{\"a\":{}}",
        "{\"a\":[true]}",
        "{\"a\u{01}\":true}",
        "{\"a\nb\":true}",
        "{\"\\x\":true}",
        "{\"\\u12\":true}",
        "{\"\\u12G4\":true}",
        "{\"\\ud83d\":true}",
        "{\"\\ud83dx\":true}",
        "{\"\\ud83d\\u0041\":true}",
        "{\"\\ude00\":true}",
        "{\"abc",
        "{\"abc\\",
        "{\"a\":true}\u{00}",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: PreferencesJSON.DecodingError.self) { try PreferencesJSON.decode(text) }
    }

    @Test func errorsNeverQuoteTheText() {
        let error = #expect(throws: PreferencesJSON.DecodingError.self) { try PreferencesJSON.decode(#"{"secret-category":1}"#) }
        #expect(error.map { !$0.description.contains("secret") } == true)
        #expect(error?.offset == 19)
    }

    @Test func roundTripsAndAgreesWithFoundation() throws {
        var random = SplitMix64(seed: 0xC0FFEE)
        let alphabet: [String] = ["a", "B", "z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{00}", "\u{1F}", "\u{7F}", "é", "例", "😀", "\u{2028}", "-", "_"]
        for _ in 0..<2_000 {
            var preferences: [CategoryPreference] = []
            for _ in 0..<Int(random.next() % 6) {
                var category = ""
                for _ in 0..<Int(random.next() % 8) { category += alphabet[Int(random.next() % UInt64(alphabet.count))] }
                preferences.append(CategoryPreference(category: category, granted: random.next() % 2 == 0))
            }
            let json = PreferencesJSON.encode(preferences)
            let decoded = try PreferencesJSON.decode(json)
            #expect(decoded == ConsentRecord.normalized(preferences))
            #expect(PreferencesJSON.encode(decoded) == json)

            // Foundation reads the same object.
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Bool]
            #expect(object == Dictionary(decoded.map { ($0.category, $0.granted) }, uniquingKeysWith: { $1 }))
        }
    }
}
