import NIOCore
import SegmentWire
import Spool
import Testing

@testable import ConsentGate

/// Which attempts of a spooled batch have `sentAt` moved, and how a gzip body is written again.
@Suite struct SentAtCorrectionTests {
    static let body = TestEvents.batch([#"{"type":"track","event":"E","userId":"u","messageId":"m-1"}"#])

    static func batch(_ json: String, gzip: Bool = false, path: String = "/v1/batch") -> SpooledBatch {
        SpooledBatch(
            source: "", path: path, authorization: nil, contentType: "application/json", userAgent: nil, contentEncoding: gzip ? "gzip" : nil,
            forwardedFor: nil, acceptedAtMilliseconds: 0, body: gzip ? HostileBodies.gzip(json) : Array(json.utf8))
    }

    static func correct(_ batch: SpooledBatch, delay: Int64) -> (body: [UInt8], outcome: SentAtCorrection.Outcome?) {
        let (body, outcome) = SentAtCorrection().body(for: batch, original: ByteBuffer(bytes: batch.body), delay: delay)
        return (Array(buffer: body), outcome)
    }

    @Test func anAttemptWithinASecondSendsTheBytesAsAcknowledged() {
        let batch = Self.batch(Self.body)
        let (body, outcome) = Self.correct(batch, delay: SentAtCorrection.threshold - 1)
        #expect(body == batch.body && outcome == nil)
    }

    @Test func aLateAttemptHasSentAtMovedByTheDelay() {
        let (body, outcome) = Self.correct(Self.batch(Self.body), delay: 3_723_004)
        #expect(outcome == .moved)
        #expect(String(decoding: body, as: UTF8.self) == Self.body.replacingOccurrences(of: "2026-11-29T10:00:01.000Z", with: "2026-11-29T11:02:04.004Z"))
    }

    @Test func aLateGzipBodyIsInflatedMovedAndCompressedAgain() {
        let (body, outcome) = Self.correct(Self.batch(Self.body, gzip: true), delay: 1000)
        #expect(outcome == .moved)
        #expect(body.starts(with: [0x1f, 0x8b]), "still gzip, as its Content-Encoding says")
        #expect(String(decoding: gunzip(body), as: UTF8.self) == Self.body.replacingOccurrences(of: "10:00:01.000Z", with: "10:00:02.000Z"))
    }

    @Test func aSingleEventRouteHasTheEventsSentAtMoved() {
        let event = #"{"userId":"u","event":"E","sentAt":"2026-11-29T10:00:01.000Z"}"#
        let (body, outcome) = Self.correct(Self.batch(event, path: "/v1/t"), delay: 60_000)
        #expect(outcome == .moved && String(decoding: body, as: UTF8.self) == event.replacingOccurrences(of: "10:00:01", with: "10:01:01"))
    }

    @Test func whatCannotBeMovedGoesAsItCameAndSaysWhy() {
        for (batch, expected) in [
            (Self.batch(#"{"batch":[{"type":"track","event":"E","userId":"u"}]}"#), SentAtCorrection.Outcome.absent),
            (Self.batch(TestEvents.batch([], extra: #","sentAt":"a while ago""#)), .unreadable),
            (Self.batch(Self.body, path: "/v2/elsewhere"), .unreadable),
            (SpooledBatch(
                source: "", path: "/v1/batch", authorization: nil, contentType: nil, userAgent: nil, contentEncoding: "gzip", forwardedFor: nil,
                acceptedAtMilliseconds: 0, body: Array(Self.body.utf8)), .unreadable),
        ] {
            let (body, outcome) = Self.correct(batch, delay: 5_000)
            #expect(outcome == expected && body == batch.body, "\(batch.path) \(String(decoding: batch.body.prefix(40), as: UTF8.self))")
        }
    }
}
