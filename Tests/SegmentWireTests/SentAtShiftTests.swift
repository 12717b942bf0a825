import Testing

@testable import SegmentWire

/// Moving every `sentAt` of a body, and nothing else.
@Suite struct SentAtShiftTests {
    static func shift(_ body: String, route: TrackingRoute = .batch, by delay: Int64 = 60_000) throws -> SentAtShift.Outcome {
        try Array(body.utf8).withUnsafeBytes { try SentAtShift.shift($0, route: route, byMilliseconds: delay) }
    }

    static func text(_ outcome: SentAtShift.Outcome) -> String? {
        outcome.body.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func movesTheEnvelopesSentAtAndLeavesEveryOtherByte() throws {
        let body = #"{"batch":[{"type":"track","event":"E","userId":"u","timestamp":"2026-12-04T10:00:00.000Z"}],"sentAt":"2026-12-04T10:00:01.000Z","writeKey":"k"}"#
        let outcome = try Self.shift(body)
        #expect(outcome.moved == 1 && outcome.unreadable == 0)
        #expect(Self.text(outcome) == body.replacingOccurrences(of: "10:00:01.000Z", with: "10:01:01.000Z"), "the event's timestamp stays")
    }

    @Test func movesEachItemsOwnSentAtEveryCaseAndEscapeSpellingAndDuplicates() throws {
        let body = """
            { "sentAt" : "2026-12-04T10:00:00.000Z", "batch": [
              {"type":"track","sentAt":"2026-12-04T10:00:01.000Z","SentAt":"2026-12-04T10:00:02.000Z"},
              {"type":"page","sent\\u0041t":"2026-12-04T10:00:03.000Z","properties":{"sentAt":"2026-12-04T10:00:09.000Z"}},
              7, "x", {}
            ], "context": {"sentAt": "2026-12-04T10:00:08.000Z"}, "sentAt": "2026-12-04T10:00:04.000\\u005a" }
            """
        let outcome = try Self.shift(body, by: 1000)
        #expect(outcome.moved == 5 && outcome.unreadable == 0)
        let moved = try #require(Self.text(outcome))
        #expect(moved.contains(#"{ "sentAt" : "2026-12-04T10:00:01.000Z", "batch""#))
        #expect(moved.contains(#""sentAt":"2026-12-04T10:00:02.000Z","SentAt":"2026-12-04T10:00:03.000Z""#))
        #expect(moved.contains(#""sent\u0041t":"2026-12-04T10:00:04.000Z""#), "an escaped key is read as a receiver decodes it")
        #expect(moved.contains(#""sentAt": "2026-12-04T10:00:05.000Z" }"#), "an escaped value is decoded, moved and written plainly")
        #expect(moved.contains(#"{"sentAt":"2026-12-04T10:00:09.000Z"}"#), "a property named sentAt is no sentAt")
        #expect(moved.contains(#"{"sentAt": "2026-12-04T10:00:08.000Z"}"#), "nor is one inside the context")
    }

    @Test func aSingleEventBodyHasItsOwnSentAtMoved() throws {
        let body = #"{"type":"track","event":"E","userId":"u","sentAt":"2026-12-04T10:00:00.000Z","batch":[{"sentAt":"2026-12-04T10:00:00.000Z"}]}"#
        let outcome = try Self.shift(body, route: .single(.track))
        #expect(outcome.moved == 1)
        #expect(Self.text(outcome) == body.replacingOccurrences(of: #""sentAt":"2026-12-04T10:00:00.000Z","batch""#, with: #""sentAt":"2026-12-04T10:01:00.000Z","batch""#))
    }

    @Test func anUnreadableSentAtIsLeftAndCountedTheOthersMoved() throws {
        let body = #"{"batch":[{"type":"track","sentAt":"yesterday"},{"type":"track","sentAt":1733335000}],"sentAt":"2026-12-04T10:00:00Z"}"#
        let outcome = try Self.shift(body)
        #expect(outcome.moved == 1 && outcome.unreadable == 1, "a number is no sentAt string: neither moved nor counted")
        #expect(Self.text(outcome) == body.replacingOccurrences(of: "10:00:00Z", with: "10:01:00Z"))
        let none = try Self.shift(#"{"batch":[{"type":"track","sentAt":"soon"}],"sentAt":"later"}"#)
        #expect(none.body == nil && none.moved == 0 && none.unreadable == 2)
    }

    @Test func aBodyWithoutSentAtIsLeftAlone() throws {
        let outcome = try Self.shift(#"{"batch":[{"type":"track","event":"E","userId":"u"}]}"#)
        #expect(outcome == SentAtShift.Outcome(body: nil, moved: 0, unreadable: 0))
    }

    @Test(arguments: [#"{"batch":[}"#, #"[{"sentAt":"2026-12-04T10:00:00Z"}]"#, #"{"sentAt":"2026-12-04T10:00:00Z",}"#, #"{"sentAt":"2026-12-04T10:00:00Z"} x"#, ""])
    func aBodyThatIsNotAJSONObjectThrows(_ body: String) {
        #expect(throws: WireError.self) { try Self.shift(body) }
    }

    @Test func nestingDeeperThanTheLimitThrows() {
        let deep = #"{"batch":[{"type":"track","properties":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}]}"
        #expect(throws: WireError.self) { try Self.shift(deep) }
    }
}
