import Testing

@testable import ConsentGate

/// Reading the write key from `Authorization`, directly and through the memo of the last value.
@Suite struct WriteKeyTests {
    private let cases: [(String?, WriteKey.Header)] = [
        (nil, .absent),
        ("Basic d2stMTo=", .basic("wk-1")),  // base64("wk-1:")
        ("basic d2stMg==", .basic("wk-2")),  // base64("wk-2"): no colon, tolerated
        ("  BASIC   d2stMTo=  ", .basic("wk-1")),
        ("Bearer abc", .otherScheme),
        ("Basic !!!", .malformed),
        ("Basic ", .otherScheme),
        ("Basic /w==", .malformed),  // base64 of 0xFF: not UTF-8
    ]

    @Test func parsesEachForm() {
        for (value, expected) in cases {
            #expect(WriteKey.parse(authorization: value) == expected, "\(value ?? "nil")")
        }
    }

    @Test func theMemoAnswersAsParsingDoesWhateverCameBefore() {
        let memo = WriteKey.Memo()
        // Every value after every other, and each twice in a row (the second from the memo).
        for (first, firstExpected) in cases {
            for (second, secondExpected) in cases {
                #expect(memo.parse(authorization: first) == firstExpected)
                #expect(memo.parse(authorization: second) == secondExpected)
                #expect(memo.parse(authorization: second) == secondExpected)
            }
        }
    }
}
