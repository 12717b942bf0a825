import Testing

@testable import SegmentWire

/// The scanner refuses what two plausible receivers would read differently (issue "Consent smuggling"):
/// case-folded keys, a body type against its route, numeric ids a float changes, case-folded categories.
@Suite struct BatchScannerAmbiguityTests {
    static func defect(_ event: String) throws -> EventDefect? {
        try ScanFixture.scan(#"{"batch":[\#(event)]}"#).events[0].defect
    }

    static let stamp = #""context":{"consent":{"categoryPreferences":{"Analytics":true}}}"#

    // MARK: Case-folded keys

    @Test(arguments: [
        #"{"type":"track","event":"e","userId":"a","USERID":"victim"}"#,
        #"{"type":"track","event":"e","anonymousId":"a","userid":"victim"}"#,
        #"{"type":"track","event":"e","userId":"a","u\u017FerId":"victim"}"#,
        #"{"type":"track","event":"e","userId":"a","uſerId":"victim"}"#,
        #"{"type":"track","event":"e","userId":"a","AnonymousId":"victim"}"#,
        #"{"Type":"identify","type":"track","event":"e","userId":"a"}"#,
        #"{"type":"track","Event":"Segment Consent Preference Updated","event":"e","userId":"a"}"#,
        #"{"type":"track","event":"e","userId":"a","Context":{"consent":{"categoryPreferences":{"Advertising":true}}}}"#,
        #"{"type":"track","event":"e","userId":"a","context":{"CONSENT":{"categoryPreferences":{"Advertising":true}}}}"#,
        #"{"type":"track","event":"e","userId":"a","context":{"consent":{"categorypreferences":{"Advertising":true}}}}"#,
        #"{"type":"track","event":"e","userId":"a","context":{"consent":{"categoryPreferences":{"A":false},"CategoryPreferences":{"A":true}}}}"#,
        #"{"type":"track","event":"e","userId":"a","context":{"con\u017Fent":{"categoryPreferences":{"A":true}}}}"#,
    ])
    func aKeyThatFoldsOntoAnInterpretedOneMakesTheEventInvalid(_ event: String) throws {
        #expect(try Self.defect(event) == .ambiguousKey)
    }

    @Test func exactKeysAndEscapedExactKeysStayValid() throws {
        #expect(try Self.defect(#"{"type":"track","event":"e","user\u0049d":"a",\#(Self.stamp)}"#) == nil)
        // Keys consentgate does not interpret may take any case; so may uninterpreted keys inside context.
        #expect(try Self.defect(#"{"type":"track","event":"e","userId":"a","Properties":{},"MessageID":"m","context":{"IP":"1"}}"#) == nil)
    }

    @Test func aFoldedEnvelopeKeyIsABadBatch() throws {
        #expect(ScanFixture.errorCode(#"{"batch":[],"BATCH":[{"type":"track","event":"e","userId":"a"}]}"#) == .invalidBatch)
        #expect(ScanFixture.errorCode(#"{"Batch":[]}"#) == .invalidBatch)
        #expect(ScanFixture.errorCode(#"{"batch":[],"context":{},"Context":{"consent":{"categoryPreferences":{"A":true}}}}"#) == .invalidBatch)
        #expect(ScanFixture.errorCode(#"{"batch":[],"writeKey":"a","WRITEKEY":"b"}"#) == .invalidBatch)
        #expect(ScanFixture.errorCode(#"{"batch":[],"SentAt":"x","Integrations":{}}"#) == nil)
    }

    @Test func aFoldedKeyOnASingleEventRouteIsAnInvalidEvent() {
        let body = #"{"event":"e","userId":"a","USERID":"victim"}"#
        #expect(ScanFixture.errorCode(body, route: .single(.track)) == .invalidEvent)
    }

    // MARK: Route against body type

    @Test func aBodyTypeOtherThanTheRoutesIsRefused() throws {
        #expect(ScanFixture.errorCode(#"{"type":"identify","userId":"a"}"#, route: .single(.track)) == .invalidEvent)
        #expect(ScanFixture.errorCode(#"{"type":"track","event":"e","userId":"a"}"#, route: .single(.identify)) == .invalidEvent)
        let same = try ScanFixture.scan(#"{"type":"track","event":"e","userId":"a"}"#, route: .single(.track))
        #expect(same.events[0].type == .track && same.events[0].defect == nil)
        let absent = try ScanFixture.scan(#"{"event":"e","userId":"a"}"#, route: .single(.track))
        #expect(absent.events[0].type == .track)
    }

    // MARK: Numeric ids

    @Test(arguments: ["1e2", "100.0", "-0", "9007199254740993", "-9007199254740993", "1E2", "12345678901234567890", "0.5"])
    func aNumericIdAFloatWouldChangeIsInvalid(_ number: String) throws {
        #expect(try Self.defect(#"{"type":"track","event":"e","userId":\#(number)}"#) == .invalidIdentifier)
        #expect(try Self.defect(#"{"type":"track","event":"e","anonymousId":\#(number)}"#) == .invalidIdentifier)
    }

    @Test(arguments: ["0", "100", "-42", "9007199254740992", "-9007199254740992", "900719925474099"])
    func aPlainIntegerIdWithin2To53IsItsText(_ number: String) throws {
        let request = try ScanFixture.scan(#"{"batch":[{"type":"track","event":"e","userId":\#(number)}]}"#)
        #expect(request.events[0].defect == nil)
        let text = Array(#"{"batch":[{"type":"track","event":"e","userId":\#(number)}]}"#.utf8).withUnsafeBytes { body in
            JSONString.decode(request.events[0].userId!, in: body)
        }
        #expect(text == number)
    }

    // MARK: Categories

    @Test func categoriesThatFoldTogetherAreADuplicate() throws {
        let event = #"{"type":"track","event":"e","userId":"a","context":{"consent":{"categoryPreferences":{"Advertising":false,"advertising":true}}}}"#
        #expect(try Self.defect(event) == .duplicateKey)
        let kelvin = #"{"type":"track","event":"e","userId":"a","context":{"consent":{"categoryPreferences":{"Kids":false,"\u212Aids":true}}}}"#
        #expect(try Self.defect(kelvin) == .duplicateKey)
        #expect(try Self.defect(#"{"type":"track","event":"e","userId":"a",\#(Self.stamp)}"#) == nil)
    }

    // MARK: The shared stamp's member

    @Test(arguments: [
        (#"{"consent":{"categoryPreferences":{"A":true},"x":1}}"#, #"{"consent":{"x":1}}"#),
        (#"{"consent":{"x":1, "categoryPreferences":{"A":true} }}"#, #"{"consent":{"x":1 }}"#),
        (#"{"consent":{ "categoryPreferences" : {"A":true} }}"#, #"{"consent":{  }}"#),
        (#"{"consent":{"a":1,"categoryPreferences":{"A":true},"b":2}}"#, #"{"consent":{"a":1,"b":2}}"#),
    ])
    func theSharedStampsMemberCutsCleanly(_ context: String, _ expected: String) throws {
        let body = #"{"batch":[],"context":\#(context)}"#
        let request = try ScanFixture.scan(body)
        let member = try #require(request.sharedStampMember)
        var bytes = Array(body.utf8)
        bytes.removeSubrange(member)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"batch":[],"context":\#(expected)}"#)
    }
}
