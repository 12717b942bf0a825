import Foundation
import Testing

@testable import SegmentWire

/// Reading, moving and writing back the `sentAt` forms SDKs write.
@Suite struct ISO8601TimestampTests {
    static func moved(_ text: String, by delta: Int64) -> String? {
        ISO8601Timestamp(Array(text.utf8))?.moved(byMilliseconds: delta).map { String(decoding: $0.bytes, as: UTF8.self) }
    }

    @Test(arguments: [
        // JavaScript's toISOString (analytics.js, analytics-node).
        ("2026-12-04T18:16:30.123Z", 3_600_000, "2026-12-04T19:16:30.123Z"),
        // Python's isoformat with a UTC zone (analytics-python): six digits, the offset as written.
        ("2026-12-04T18:16:30.123456+00:00", 90_061_001, "2026-12-05T19:17:31.124456+00:00"),
        // Go's RFC3339Nano: nine digits, the finer six kept.
        ("2026-12-04T18:16:30.123456789Z", 1, "2026-12-04T18:16:30.124456789Z"),
        // An offset other than UTC moves the written fields, the offset kept.
        ("2026-12-04T23:59:59.999-05:00", 1, "2026-12-05T00:00:00.000-05:00"),
        ("2026-12-04T10:00:00+0530", 1500, "2026-12-04T10:00:01.500+0530"),
        ("2026-12-04T10:00:00+05", 60_000, "2026-12-04T10:01:00+05"),
        // No fraction and a whole-second move: still none.
        ("2026-12-04T10:00:00Z", 2000, "2026-12-04T10:00:02Z"),
        // One fraction digit grows to milliseconds.
        ("2026-12-04T10:00:00.5Z", 1, "2026-12-04T10:00:00.501Z"),
        // Minutes only, a comma fraction, a space or a lower-case separator, no zone.
        ("2026-12-04T10:00Z", 1000, "2026-12-04T10:00:01Z"),
        ("2026-12-04T10:00:00,250Z", 1, "2026-12-04T10:00:00.251Z"),
        ("2026-12-04 10:00:00.000", 1, "2026-12-04 10:00:00.001"),
        ("2026-12-04t10:00:00.000z", 1, "2026-12-04t10:00:00.001z"),
        // Across a year, into a leap day, across a century that is not a leap year.
        ("2026-12-31T23:59:59.999Z", 1, "2027-01-01T00:00:00.000Z"),
        ("2028-02-28T23:00:00.000Z", 3_600_000, "2028-02-29T00:00:00.000Z"),
        ("2100-02-28T23:00:00.000Z", 3_600_000, "2100-03-01T00:00:00.000Z"),
        // Backwards, and before 1970.
        ("1970-01-01T00:00:00.000Z", -1, "1969-12-31T23:59:59.999Z"),
        // Three days, the spool's default maximum age.
        ("2026-12-04T18:16:30.123Z", 259_200_000, "2026-12-07T18:16:30.123Z"),
    ] as [(String, Int64, String)])
    func movesTheWrittenFieldsAndKeepsTheRest(_ text: String, _ delta: Int64, _ expected: String) {
        #expect(Self.moved(text, by: delta) == expected)
    }

    @Test(arguments: [
        "", "yesterday", "1733335000", "2026-12-04", "2026-12-04T", "2026-12-04T10", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-04T24:00:00Z", "2026-12-04T10:60:00Z", "2026-12-31T23:59:60Z",
        "2026-12-04T10:00:00.Z", "2026-12-04T10:00:00ZZ", "2026-12-04T10:00:00+5", "2026-12-04T10:00:00+24:00", "2026-12-04T10:00:00+01:60",
        "2026-12-04T10:00:00 UTC", "26-12-04T10:00:00Z", "+2026-12-04T10:00:00Z", "2026-12-04X10:00:00Z", "２０２６-12-04T10:00:00Z",
        "0000-12-31T00:00:00Z",
    ])
    func readsNothingElse(_ text: String) {
        #expect(ISO8601Timestamp(Array(text.utf8)) == nil, "\(text)")
    }

    @Test func aMoveOutOfFourDigitYearsIsRefused() throws {
        let last = try #require(ISO8601Timestamp(Array("9999-12-31T23:59:59.999Z".utf8)))
        #expect(last.moved(byMilliseconds: 1) == nil)
        #expect(last.moved(byMilliseconds: Int64.max) == nil)
        let first = try #require(ISO8601Timestamp(Array("0001-01-01T00:00:00.000Z".utf8)))
        #expect(first.moved(byMilliseconds: -1) == nil)
        #expect(first.moved(byMilliseconds: 0).map { String(decoding: $0.bytes, as: UTF8.self) } == "0001-01-01T00:00:00.000Z")
    }

    /// Against Foundation's calendar: random instants from 1900 to 2200, moved by random delays up to a
    /// year either way, read and written in UTC. Foundation writes whole seconds (a `Double` holds them
    /// exactly); the milliseconds are written beside them.
    @Test func agreesWithFoundationOnRandomInstants() throws {
        var random = SystemRandomNumberGenerator()
        let style = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)
        func written(_ milliseconds: Int64) -> String {
            let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
            let fraction = milliseconds - seconds * 1000
            let text = Date(timeIntervalSince1970: Double(seconds)).formatted(style)
            return text.dropLast() + "." + String(1000 + fraction).dropFirst() + "Z"
        }
        for _ in 0..<5_000 {
            let milliseconds = Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &random)
            let delta = Int64.random(in: -31_536_000_000...31_536_000_000, using: &random)
            let timestamp = try #require(ISO8601Timestamp(Array(written(milliseconds).utf8)), "\(written(milliseconds))")
            #expect(timestamp.milliseconds == milliseconds, "\(written(milliseconds))")
            #expect(Self.moved(written(milliseconds), by: delta) == written(milliseconds + delta), "\(written(milliseconds)) moved by \(delta) ms")
        }
    }
}
