import Foundation
import Testing

@testable import SegmentWire

/// The reader that a store's preferences text and the import file share: it accepts exactly the JSON the
/// request path's validator accepts, decodes strings as Foundation does, and says where it stopped
/// without quoting the text.
@Suite struct JSONTextReaderTests {
    /// Whether the reader takes `bytes` as exactly one JSON value, white space around it allowed.
    private func readsAsOneValue(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONTextReader(bytes: buffer)
            do throws(JSONTextReader.Failure) {
                reader.skipWhitespace()
                try reader.skipValue(depth: 0, maxDepth: 64)
                reader.skipWhitespace()
                return reader.peek() == nil
            } catch {
                return false
            }
        }
    }

    /// Whether the request path's validator takes `bytes` (nesting up to 64, as `readsAsOneValue`).
    private func validatesOnTheRequestPath(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            do throws(WireError) {
                try BatchScanner.validate(buffer, maxDepth: 64)
                return true
            } catch {
                return false
            }
        }
    }

    private func read(_ bytes: [UInt8]) -> Result<String, JSONTextReader.Failure> {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONTextReader(bytes: buffer)
            return Result { () throws(JSONTextReader.Failure) -> String in try reader.readString("expected a string") }
        }
    }

    /// Random documents and corruptions of them (the generator of the scanner's differential tests):
    /// the reader agrees with `BatchScanner.validate` on every one.
    @Test(arguments: [21 as UInt64, 22, 23])
    func acceptsExactlyWhatTheRequestPathAccepts(seed: UInt64) {
        var generator = JSONGenerator(seed: seed)
        var refused = 0
        for index in 0..<1_500 {
            var document: [UInt8] = []
            generator.value(into: &document)
            for (variant, candidate) in [document, generator.mutate(document), generator.mutate(document)].enumerated() {
                let reference = validatesOnTheRequestPath(candidate)
                #expect(readsAsOneValue(candidate) == reference, "seed \(seed), document \(index), variant \(variant)")
                if !reference { refused += 1 }
            }
        }
        #expect(refused > 1_000)  // the corruptions did make invalid documents
    }

    /// The nesting limit counts containers, empty ones too, and both readers draw it at the same place.
    @Test func nestingStopsWhereTheRequestPathStops() {
        /// `nesting` arrays or objects inside each other, the innermost empty or holding a number.
        func nested(_ nesting: Int, objects: Bool, empty: Bool) -> String {
            let open = objects ? #"{"k":"# : "["
            let close = objects ? "}" : "]"
            if empty {
                return String(repeating: open, count: nesting - 1) + (objects ? "{}" : "[]") + String(repeating: close, count: nesting - 1)
            }
            return String(repeating: open, count: nesting) + "1" + String(repeating: close, count: nesting)
        }
        for nesting in [63, 64, 65] {
            for objects in [false, true] {
                for empty in [false, true] {
                    let document = Array(nested(nesting, objects: objects, empty: empty).utf8)
                    let reference = validatesOnTheRequestPath(document)
                    let label = "\(nesting) deep, \(objects ? "objects" : "arrays"), \(empty ? "empty" : "a number") inside"
                    #expect(reference == (nesting <= 64), "\(label)")
                    #expect(readsAsOneValue(document) == reference, "\(label)")
                }
            }
        }
    }

    /// Random strings with every kind of escape, surrogate pairs and raw UTF-8 decode as Foundation
    /// decodes them, and the reader stops right after the closing quote.
    @Test func decodesStringsAsFoundationDoes() throws {
        var generator = JSONGenerator(seed: 24)
        for index in 0..<2_000 {
            var literal: [UInt8] = []
            generator.string(into: &literal)
            let expected = try JSONSerialization.jsonObject(with: Data(literal), options: .fragmentsAllowed) as? String
            let decoded = literal.withUnsafeBufferPointer { buffer in
                var reader = JSONTextReader(bytes: buffer)
                let value = try? reader.readString("expected a string")
                return reader.index == buffer.count ? value : nil
            }
            #expect(decoded == expected, "string \(index)")
        }
    }

    @Test func aKeyMatchesItsNameWrittenWithEscapes() throws {
        for (text, matches) in [(#""subject""#, true), (#""\u0073ubject""#, true), (#""subjects""#, false), (#""Subject""#, false)] {
            let bytes = Array(text.utf8)
            let result = bytes.withUnsafeBufferPointer { buffer in
                var reader = JSONTextReader(bytes: buffer)
                return Result { () throws(JSONTextReader.Failure) -> Bool in
                    try reader.expect(UInt8(ascii: "\""), "a key")
                    let key = try reader.scanString()
                    return reader.matches(key, "subject")
                }
            }
            #expect(try result.get() == matches, "\(text)")
        }
    }

    /// Each refusal says where (the escape or byte at fault, or the opening quote of an unterminated
    /// string) in the request path's words, and never quotes the text (which may be a subject id).
    @Test(arguments: [
        (Array(#""secret"#.utf8), 0, "unterminated string starting"),
        (Array(#""secret\u12""#.utf8), 7, "invalid \\u escape"),
        (Array(#""secret\ud83d""#.utf8), 7, "unpaired high surrogate escape"),
        (Array(#""secret\ude00""#.utf8), 7, "unpaired low surrogate escape"),
        (Array(#""secret\x""#.utf8), 7, "invalid escape"),
        (Array(#""secret\u00g0""#.utf8), 7, "invalid \\u escape"),
        (Array("\"secret\u{01}\"".utf8), 7, "unescaped control character in string"),
        ([0x22, 0x73, 0xC3, 0x28, 0x22], 2, "invalid UTF-8"),
        (Array("secret".utf8), 0, "expected a string"),
    ])
    func refusalsSayWhereAndWhy(_ text: [UInt8], offset: Int, reason: String) {
        guard case .failure(let failure) = read(text) else {
            Issue.record("accepted")
            return
        }
        #expect(failure.offset == offset)
        #expect(failure.reason == reason)
        #expect(!failure.reason.contains("secret"))
    }

    @Test func nestingIsBounded() {
        let deep = Array(String(repeating: "[", count: 70).utf8) + Array(String(repeating: "]", count: 70).utf8)
        let shallow = Array(String(repeating: "[", count: 10).utf8) + [UInt8(ascii: "1")] + Array(String(repeating: "]", count: 10).utf8)
        #expect(!readsAsOneValue(deep))
        #expect(readsAsOneValue(shallow))
    }
}
