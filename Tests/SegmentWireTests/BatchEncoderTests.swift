import Foundation
import Testing

@testable import SegmentWire

@Suite struct BatchEncoderTests {
    typealias Edit = BatchEncoder.EventEdit

    static let stamp = [CategoryPreference(category: "A", granted: true), CategoryPreference(category: "B", granted: false)]
    static let stampJSON = #"{"A":true,"B":false}"#

    /// Scans `json` and encodes it with `edits`; `nil` when everything was dropped.
    static func encode(_ json: String, route: TrackingRoute = .batch, _ edits: [Edit]) throws -> String? {
        let bytes = Array(json.utf8)
        let request = try ScanFixture.scan(bytes, route: route)
        let out = bytes.withUnsafeBytes { BatchEncoder.encode(body: $0, request: request, edits: edits) }
        return out.map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Dropping

    static let e1 = #"{"type":"track","userId":"u1","event":"A","messageId":"m1","timestamp":"t1"}"#
    static let e2 = #"{"type":"track","userId":"u2","event":"B"}"#
    static let e3 = #"{ "type" : "track" , "userId" : "u3" , "event" : "C" }"#
    static let head = #"{"sentAt":"2024-01-01T00:00:00Z", "context": {"ip": "1"},"batch": [ "#
    static let tail = #"] ,"writeKey":"wk" , "integrations":{"All":true}}"#
    static let batch = head + e1 + " , " + e2 + ",\n" + e3 + " \n" + tail

    @Test func dropsEventsAndKeepsTheEnvelopeByteIdentical() throws {
        let head = String(Self.head.dropLast())  // the white space after `[` is not the envelope's
        #expect(try Self.encode(Self.batch, [.keep, .keep, .keep]) == head + [Self.e1, Self.e2, Self.e3].joined(separator: ",") + Self.tail)
        #expect(try Self.encode(Self.batch, [.drop, .keep, .keep]) == head + Self.e2 + "," + Self.e3 + Self.tail)
        #expect(try Self.encode(Self.batch, [.keep, .drop, .keep]) == head + Self.e1 + "," + Self.e3 + Self.tail)
        #expect(try Self.encode(Self.batch, [.keep, .keep, .drop]) == head + Self.e1 + "," + Self.e2 + Self.tail)
        #expect(try Self.encode(Self.batch, [.drop, .keep, .drop]) == head + Self.e2 + Self.tail)
        #expect(try Self.encode(Self.batch, [.drop, .drop, .drop]) == nil)
        // An event without an edit is dropped.
        #expect(try Self.encode(Self.batch, [.keep]) == head + Self.e1 + Self.tail)
        #expect(try Self.encode(Self.batch, []) == nil)
        #expect(try Self.encode(#"{"batch":[]}"#, []) == nil)
    }

    @Test func dropsInvalidItemsOfAnyKind() throws {
        let json = #"{"batch":[1,{"type":"identify","userId":"u"},"x",[{}],{"type":"bogus"}]}"#
        let request = try ScanFixture.scan(json)
        let edits: [Edit] = request.events.map { $0.defect == nil ? .keep : .drop }
        #expect(try Self.encode(json, edits) == #"{"batch":[{"type":"identify","userId":"u"}]}"#)
    }

    // MARK: Restamping

    /// Restamps the one event of a batch and returns the new event.
    static func restamped(_ event: String, _ preferences: [CategoryPreference] = stamp) throws -> String? {
        let out = try encode(#"{"batch":["# + event + "]}", [.restamp(preferences)])
        guard let out, out.hasPrefix(#"{"batch":["#), out.hasSuffix("]}") else { return nil }
        return String(out.dropFirst(10).dropLast(2))
    }

    @Test func restampReplacesTheEventsOwnStamp() throws {
        let event = #"{"type":"identify","userId":"u","context":{"consent":{ "categoryPreferences" : {"Old":true, "X": false} , "v":1}}}"#
        #expect(try Self.restamped(event)
            == #"{"type":"identify","userId":"u","context":{"consent":{ "categoryPreferences" : "# + Self.stampJSON + #" , "v":1}}}"#)
        let empty = #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{}}}}"#
        #expect(try Self.restamped(empty)
            == #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":"# + Self.stampJSON + "}}}")
        #expect(try Self.restamped(event, []) == #"{"type":"identify","userId":"u","context":{"consent":{ "categoryPreferences" : {} , "v":1}}}"#)
    }

    @Test func restampInsertsIntoConsent() throws {
        #expect(try Self.restamped(#"{"type":"identify","userId":"u","context":{"consent":{"v":1}}}"#)
            == #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":"# + Self.stampJSON + #","v":1}}}"#)
        #expect(try Self.restamped(#"{"type":"identify","userId":"u","context":{"consent":{ }}}"#)
            == #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":"# + Self.stampJSON + " }}}")
    }

    @Test func restampInsertsIntoContext() throws {
        #expect(try Self.restamped(#"{"type":"identify","userId":"u","context":{"ip":"1"}}"#)
            == #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":"# + Self.stampJSON + #"},"ip":"1"}}"#)
        #expect(try Self.restamped(#"{"type":"identify","userId":"u","context":{}}"#)
            == #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":"# + Self.stampJSON + "}}}")
    }

    @Test func restampInsertsAContext() throws {
        #expect(try Self.restamped(#"{"type":"identify","userId":"u"}"#)
            == #"{"context":{"consent":{"categoryPreferences":"# + Self.stampJSON + #"}},"type":"identify","userId":"u"}"#)
        // An empty event is invalid and would be dropped, but the encoder still writes valid JSON for it.
        #expect(try Self.restamped("{ }") == #"{"context":{"consent":{"categoryPreferences":"# + Self.stampJSON + "}} }")
    }

    @Test func restampEscapesCategoryKeys() throws {
        let preferences = [CategoryPreference(category: "q\"t\\\n", granted: true), .init(category: "Été", granted: false)]
        #expect(try Self.restamped(#"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{}}}}"#, preferences)
            == #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{"q\"t\\\n":true,"Été":false}}}}"#)
    }

    @Test func restampWithASharedStampAddsTheEventsOwn() throws {
        let json = #"{"context":{"consent":{"categoryPreferences":{"A":true}}},"#
            + #""batch":[{"type":"identify","userId":"u"},{"type":"identify","userId":"v"}]}"#
        let request = try ScanFixture.scan(json)
        #expect(request.sharedStamp != nil && request.events.allSatisfy { $0.stamp == nil })
        let out = try Self.encode(json, [.restamp(Self.stamp), .keep])
        #expect(out == #"{"context":{"consent":{"categoryPreferences":{"A":true}}},"batch":[{"context":{"consent":{"categoryPreferences":"#
            + Self.stampJSON + #"}},"type":"identify","userId":"u"},{"type":"identify","userId":"v"}]}"#)
        let rescanned = try ScanFixture.scan(try #require(out))
        #expect(rescanned.events[0].stamp.map { Array(rescanned.entries(of: $0)) } == Self.stamp)
        #expect(rescanned.effectiveStamp(of: rescanned.events[1]) == rescanned.sharedStamp)
    }

    @Test func mixedEditsInOneBatch() throws {
        let out = try Self.encode(Self.batch, [.restamp(Self.stamp), .drop, .restamp([])])
        let restamped1 = #"{"context":{"consent":{"categoryPreferences":"# + Self.stampJSON + #"}},"# + Self.e1.dropFirst()
        let restamped3 = #"{"context":{"consent":{"categoryPreferences":{}}}, "type" : "track" , "userId" : "u3" , "event" : "C" }"#
        #expect(out == String(Self.head.dropLast()) + restamped1 + "," + restamped3 + Self.tail)
    }

    // MARK: Single route

    @Test func singleRoute() throws {
        let body = #" {"userId":"u","event":"e","context":{"consent":{"categoryPreferences":{"Old":true}}}} "#
        #expect(try Self.encode(body, route: .single(.track), [.keep]) == body)
        #expect(try Self.encode(body, route: .single(.track), [.drop]) == nil)
        #expect(try Self.encode(body, route: .single(.track), []) == nil)
        #expect(try Self.encode(body, route: .single(.track), [.restamp(Self.stamp)])
            == #" {"userId":"u","event":"e","context":{"consent":{"categoryPreferences":"# + Self.stampJSON + "}}} ")
        #expect(try Self.encode(#"{"userId":"u"}"#, route: .single(.page), [.restamp([])])
            == #"{"context":{"consent":{"categoryPreferences":{}}},"userId":"u"}"#)
    }

    @Test func aRequestThatDoesNotFitTheBodyGivesNil() {
        var request = ScannedRequest(route: .batch)
        request.events = [ScannedEvent(range: 0..<2)]
        let body = Array("{}".utf8)
        #expect(body.withUnsafeBytes { BatchEncoder.encode(body: $0, request: request, edits: [.keep]) } == nil)
        request.batchArray = 0..<50
        #expect(body.withUnsafeBytes { BatchEncoder.encode(body: $0, request: request, edits: [.keep]) } == nil)
    }

    // MARK: Round trips

    /// `object` as canonical JSON (sorted keys), to compare documents for equality.
    static func canonical(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    @Test(arguments: 1...4 as ClosedRange<UInt64>)
    func reencodedBatchesRescanAndOnlyThePreferencesChange(seed: UInt64) throws {
        var generator = JSONGenerator(seed: seed &* 104_729)
        generator.maxDepth = 5
        for index in 0..<100 {
            let label = "seed \(seed) #\(index)"
            let count = generator.int(1...10)
            var body = Array(#"{"sentAt":"s","context":{"consent":{"categoryPreferences":{"Shared":true}}},"batch":[ "#.utf8)
            for eventIndex in 0..<count {
                if eventIndex > 0 { body += Array(" , ".utf8) }
                body += JSONDifferentialTests.event(&generator)
            }
            body += Array(#" ],"writeKey":"wk"}"#.utf8)
            let request = try ScanFixture.scan(body)
            try #require(request.events.count == count, "\(label)")

            var edits: [Edit] = []
            for _ in 0..<count {
                switch generator.int(0...2) {
                case 0: edits.append(.keep)
                case 1: edits.append(.drop)
                default:
                    let preferences = (0..<generator.int(0...4)).map { i in
                        CategoryPreference(category: "Cat\(i)\(generator.pick(["", "\"", "é", "\\", "\n"]))", granted: generator.chance(0.5))
                    }
                    edits.append(.restamp(preferences))
                }
            }
            let out = body.withUnsafeBytes { BatchEncoder.encode(body: $0, request: request, edits: edits) }
            guard let out else {
                #expect(edits.allSatisfy { $0 == .drop }, "\(label)")
                continue
            }
            #expect(out.count <= body.count + edits.count * 200, "\(label)")

            // It scans again: the kept events, their stamps the new ones.
            let rescanned = try ScanFixture.scan(out)
            let kept = edits.filter { $0 != .drop }
            try #require(rescanned.events.count == kept.count, "\(label)")
            for (event, edit) in zip(rescanned.events, kept) {
                #expect(event.defect == nil, "\(label)")
                if case .restamp(let preferences) = edit {
                    #expect(event.stamp.map { Array(rescanned.entries(of: $0)) } == preferences, "\(label)")
                }
            }

            // Foundation sees the original minus the dropped events, with only the preferences changed.
            var expected = try #require(FoundationOracle.object(body) as? [String: Any])
            let events = try #require(expected["batch"] as? [[String: Any]])
            var expectedEvents: [[String: Any]] = []
            for (event, edit) in zip(events, edits) {
                switch edit {
                case .drop: continue
                case .keep: expectedEvents.append(event)
                case .restamp(let preferences):
                    var event = event
                    var context = event["context"] as? [String: Any] ?? [:]
                    var consent = context["consent"] as? [String: Any] ?? [:]
                    consent["categoryPreferences"] = Dictionary(uniqueKeysWithValues: preferences.map { ($0.category, $0.granted) })
                    context["consent"] = consent
                    event["context"] = context
                    expectedEvents.append(event)
                }
            }
            expected["batch"] = expectedEvents
            let actual = try #require(FoundationOracle.object(out))
            #expect(try Self.canonical(actual) == Self.canonical(expected), "\(label)")
        }
    }
}

// MARK: The batch's shared stamp

extension BatchEncoderTests {
    static let shared = #"{"context":{"consent":{"categoryPreferences":{"A":true}},"ip":"1"},"batch":["#
    static let own = #"{"type":"track","userId":"u1","event":"A","context":{"consent":{"categoryPreferences":{"A":false}}}}"#
    static let bare = #"{"type":"track","userId":"u2","event":"B"}"#

    /// Once an event is restamped, the shared stamp leaves the envelope, and the kept event that relied
    /// on it carries its own copy: no stamp of the forwarded request can reach an event it was not checked for.
    @Test func aRestampRemovesTheSharedStampAndCopiesItIntoEventsThatReliedOnIt() throws {
        let json = Self.shared + Self.own + "," + Self.bare + "]}"
        let bytes = Array(json.utf8)
        let request = try ScanFixture.scan(bytes)
        let (edits, remove) = BatchEncoder.isolatingSharedStamp(request, edits: [.restamp(Self.stamp), .keep])
        #expect(remove)
        #expect(edits == [.restamp(Self.stamp), .restamp([CategoryPreference(category: "A", granted: true)])])
        let out = bytes.withUnsafeBytes { BatchEncoder.encode(body: $0, request: request, edits: edits, removeSharedStamp: remove) }
        let text = String(decoding: try #require(out), as: UTF8.self)
        #expect(
            text == #"{"context":{"consent":{},"ip":"1"},"batch":["#
                + #"{"type":"track","userId":"u1","event":"A","context":{"consent":{"categoryPreferences":"# + Self.stampJSON + "}}},"
                + #"{"context":{"consent":{"categoryPreferences":{"A":true}}},"type":"track","userId":"u2","event":"B"}]}"#)
    }

    @Test func withoutARestampTheSharedStampStays() throws {
        let json = Self.shared + Self.own + "," + Self.bare + "]}"
        let request = try ScanFixture.scan(json)
        let (edits, remove) = BatchEncoder.isolatingSharedStamp(request, edits: [.drop, .keep])
        #expect(!remove)
        #expect(edits == [.drop, .keep])
        // A batch without a shared stamp has nothing to isolate.
        let plain = try ScanFixture.scan(#"{"batch":["# + Self.own + "]}")
        #expect(BatchEncoder.isolatingSharedStamp(plain, edits: [.restamp(Self.stamp)]).removeSharedStamp == false)
    }
}
