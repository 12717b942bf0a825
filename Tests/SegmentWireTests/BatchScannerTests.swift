import Testing

@testable import SegmentWire

/// Scans test bodies and reads back what the scanner located.
enum ScanFixture {
    static func scan(
        _ json: String,
        route: TrackingRoute = .batch,
        limits: WireLimits = .init()
    ) throws(WireError) -> ScannedRequest {
        try scan(Array(json.utf8), route: route, limits: limits)
    }

    static func scan(
        _ bytes: [UInt8],
        route: TrackingRoute = .batch,
        limits: WireLimits = .init()
    ) throws(WireError) -> ScannedRequest {
        let result: Result<ScannedRequest, WireError> = bytes.withUnsafeBytes { body in
            Result { () throws(WireError) in try BatchScanner(limits: limits).scan(body, route: route) }
        }
        return try result.get()
    }

    /// The error code a scan throws, or `nil` when it succeeds.
    static func errorCode(_ json: String, route: TrackingRoute = .batch, limits: WireLimits = .init()) -> WireError.Code? {
        errorCode(Array(json.utf8), route: route, limits: limits)
    }

    static func errorCode(_ bytes: [UInt8], route: TrackingRoute = .batch, limits: WireLimits = .init()) -> WireError.Code? {
        do {
            _ = try scan(bytes, route: route, limits: limits)
            return nil
        } catch {
            return error.code
        }
    }

    static func error(_ json: String, route: TrackingRoute = .batch) -> WireError? {
        do {
            _ = try scan(json, route: route)
            return nil
        } catch {
            return error
        }
    }

    static func text(_ ref: ValueRef?, in json: String) -> String? {
        guard let ref else { return nil }
        return Array(json.utf8).withUnsafeBytes { JSONString.decode(ref, in: $0) }
    }

    static func slice(_ range: Range<Int>?, in json: String) -> String? {
        guard let range else { return nil }
        return String(decoding: Array(json.utf8)[range], as: UTF8.self)
    }

    /// The single event of a one-item batch.
    static func event(_ eventJSON: String) throws -> ScannedEvent {
        let request = try scan(#"{"batch":["# + eventJSON + "]}")
        try #require(request.events.count == 1)
        return request.events[0]
    }

    static func defect(_ eventJSON: String) throws -> EventDefect? {
        try event(eventJSON).defect
    }
}

@Suite struct BatchScannerTests {
    typealias F = ScanFixture

    // MARK: Field extraction

    static let batch = """
        {
          "batch": [
            {"type": "identify", "userId": "u1", "anonymousId": "a1", "messageId": "m1", "traits": {"email": "x@y"},
             "context": {"ip": "1.2.3.4", "consent": {"categoryPreferences": {"Ads": true, "Analytics": false}}}},
            {"type": "track", "anonymousId": "a2", "event": "Song Played", "messageId": "m2", "properties": {"k": [1, 2]}},
            {"type": "group", "userId": "u3", "groupId": "g3"},
            {"type": "alias", "userId": "u4", "previousId": "p4"},
            {"type": "page", "userId": "u5", "context": {"consent": {}}},
            {"type": "screen", "userId": "u6", "context": {}}
          ],
          "writeKey": "wk",
          "sentAt": "2024-01-01T00:00:00.000Z",
          "integrations": {"All": true},
          "context": {"library": {"name": "x"}, "consent": {"categoryPreferences": {"Shared": true}}}
        }
        """

    @Test func extractsEveryFieldOfABatch() throws {
        let json = Self.batch
        let request = try F.scan(json)
        #expect(request.route == .batch)
        #expect(request.events.count == 6)
        #expect(request.events.allSatisfy { $0.defect == nil })
        #expect(request.events.map(\.type) == [.identify, .track, .group, .alias, .page, .screen])

        let identify = request.events[0]
        #expect(F.text(identify.userId, in: json) == "u1")
        #expect(F.text(identify.anonymousId, in: json) == "a1")
        #expect(F.text(identify.messageId, in: json) == "m1")
        #expect(F.slice(identify.range, in: json)?.hasPrefix(#"{"type": "identify""#) == true)
        #expect(F.slice(identify.range, in: json)?.hasSuffix(#""Analytics": false}}}}"#) == true)
        #expect(F.slice(identify.context?.range, in: json)?.hasPrefix(#"{"ip""#) == true)
        #expect(identify.context?.isEmpty == false)
        #expect(F.slice(identify.consent?.range, in: json) == #"{"categoryPreferences": {"Ads": true, "Analytics": false}}"#)
        let stamp = try #require(identify.stamp)
        #expect(F.slice(stamp.range, in: json) == #"{"Ads": true, "Analytics": false}"#)
        #expect(Array(request.entries(of: stamp)) == [.init(category: "Ads", granted: true), .init(category: "Analytics", granted: false)])
        #expect(request.effectiveStamp(of: identify) == stamp)

        let track = request.events[1]
        #expect(track.userId == nil)
        #expect(F.text(track.anonymousId, in: json) == "a2")
        #expect(F.text(track.eventName, in: json) == "Song Played")
        #expect(track.context == nil && track.consent == nil && track.stamp == nil)

        #expect(F.text(request.events[2].groupId, in: json) == "g3")
        #expect(F.text(request.events[3].previousId, in: json) == "p4")
        #expect(request.events[4].consent?.isEmpty == true)
        #expect(request.events[4].stamp == nil)
        #expect(request.events[5].context?.isEmpty == true)
        #expect(request.events[5].consent == nil)

        #expect(F.text(request.writeKey, in: json) == "wk")
        #expect(F.text(request.sentAt, in: json) == "2024-01-01T00:00:00.000Z")
        #expect(F.slice(request.integrations?.range, in: json) == #"{"All": true}"#)
        #expect(F.slice(request.context?.range, in: json)?.hasPrefix(#"{"library""#) == true)
        let shared = try #require(request.sharedStamp)
        #expect(F.slice(shared.range, in: json) == #"{"Shared": true}"#)
        #expect(Array(request.entries(of: shared)) == [.init(category: "Shared", granted: true)])
        #expect(request.effectiveStamp(of: track) == shared)
        #expect(request.preferences.count == 3)

        let array = try #require(F.slice(request.batchArray, in: json))
        #expect(array.hasPrefix("[") && array.hasSuffix("]"))
        #expect(array.contains(#""type": "screen""#))
    }

    @Test func extractsASingleEvent() throws {
        let json = #" {"userId":"u","event":"E","writeKey":"wk","sentAt":"s","integrations":{},"messageId":"m","#
            + #""context":{"consent":{"categoryPreferences":{}}}} "#
        let request = try F.scan(json, route: .single(.track))
        #expect(request.route == .single(.track))
        #expect(request.batchArray == nil && request.context == nil && request.sharedStamp == nil)
        let event = try #require(request.events.first)
        #expect(request.events.count == 1)
        #expect(event.type == .track)  // from the route
        #expect(event.defect == nil)
        #expect(F.slice(event.range, in: json)?.first == "{" && F.slice(event.range, in: json)?.last == "}")
        #expect(F.text(request.writeKey, in: json) == "wk")
        #expect(F.text(request.sentAt, in: json) == "s")
        #expect(request.integrations?.isEmpty == true)
        #expect(F.text(event.messageId, in: json) == "m")
        let stamp = try #require(event.stamp)
        #expect(stamp.entries.isEmpty)
        #expect(F.slice(stamp.range, in: json) == "{}")
    }

    @Test func singleRouteRefusesABodyTypeOfAnotherRoute() throws {
        #expect(F.error(#"{"type":"identify","userId":"u"}"#, route: .single(.track))?.message.contains("type_mismatch") == true)
        #expect(try F.scan(#"{"type":"identify","userId":"u"}"#, route: .single(.identify)).events[0].type == .identify)
        #expect(F.error(#"{"type":"bogus","userId":"u","event":"e"}"#, route: .single(.track))?.code == .invalidEvent)
        for type in EventType.allCases {
            let body = #"{"userId":"u","previousId":"p","groupId":"g","event":"e"}"#
            #expect(try F.scan(body, route: .single(type)).events[0].type == type)
        }
    }

    @Test func decodesEscapedKeysAndValues() throws {
        let json = #"{"batch":[{"t\u0079pe":"tr\u0061ck","user\u0049d":"a\"b\\c\/\u00e9\ud83d\ude00\n","event":"E\t","anonymousId":"plain","#
            + #""\u0063ontext":{"con\u0073ent":{"categoryPreference\u0073":{"A\u0064s":true,"\u00c9t\u00e9":false,"q\"uote":true}}}}]}"#
        let request = try F.scan(json)
        let event = request.events[0]
        #expect(event.defect == nil)
        #expect(event.type == .track)
        let userId = try #require(event.userId)
        #expect(userId.hasEscapes)
        #expect(F.text(userId, in: json) == "a\"b\\c/é😀\n")
        #expect(F.text(event.eventName, in: json) == "E\t")
        #expect(event.anonymousId?.hasEscapes == false)
        let stamp = try #require(event.stamp)
        #expect(Array(request.entries(of: stamp)).map(\.category) == ["Ads", "Été", "q\"uote"])
        let bytes = Array(json.utf8)
        bytes.withUnsafeBytes { body in
            #expect(JSONString.equals(userId, "a\"b\\c/é😀\n", in: body))
            #expect(!JSONString.equals(userId, "a\"b\\c/é😀", in: body))
            #expect(JSONString.equals(event.anonymousId!, "plain", in: body))
            #expect(!JSONString.equals(event.anonymousId!, "plainer", in: body))
        }
    }

    @Test func escapedDuplicateOfAnInterpretedKeyIsADuplicate() throws {
        #expect(try F.defect(#"{"type":"track","event":"e","userId":"a","user\u0049d":"b"}"#) == .duplicateKey)
        #expect(try F.defect(#"{"type":"track","event":"e","userId":"a","\u0075\u0073\u0065\u0072\u0049\u0064":"b"}"#) == .duplicateKey)
        // A case variant is not a duplicate to a case-sensitive reader, but is to Go's: ambiguous.
        #expect(try F.defect(#"{"type":"track","event":"e","userId":"a","userid":"b"}"#) == .ambiguousKey)
    }

    @Test func numbersAndNullsAsIdentifiers() throws {
        let json = #"{"batch":[{"type":"identify","userId":-12,"anonymousId":0},{"type":"identify","userId":null,"anonymousId":"a"},"#
            + #"{"type":"identify","userId":null,"anonymousId":null},{"type":"identify","userId":"","anonymousId":"a"},"#
            + #"{"type":"identify","userId":"","anonymousId":""}]}"#
        let request = try F.scan(json)
        let events = request.events
        #expect(events[0].userId?.kind == .number)
        #expect(F.text(events[0].userId, in: json) == "-12")
        #expect(F.text(events[0].anonymousId, in: json) == "0")
        #expect(events[0].defect == nil)
        #expect(events[1].userId == nil && events[1].defect == nil)
        #expect(events[2].defect == .missingIdentity)
        #expect(events[3].userId == nil && events[3].defect == nil)  // "" counts as absent
        #expect(events[4].defect == .missingIdentity)
    }

    @Test func nonStringMessageIdAndEventAreIgnoredNotDefects() throws {
        let event = try F.event(#"{"type":"identify","userId":"u","messageId":5,"event":{"x":1}}"#)
        #expect(event.messageId == nil && event.eventName == nil && event.defect == nil)
    }

    @Test func onlyTopLevelKeysOfAnEventAreInterpreted() throws {
        let json = #"{"batch":[{"type":"track","event":"e","properties":{"userId":"nested","context":5},"anonymousId":"a","#
            + #""traits":{"type":"x","userId":[1]},"context":{"page":{"consent":5},"#
            + #""consent":{"x":{"categoryPreferences":1},"categoryPreferences":{"A":true}}}}]}"#
        let request = try F.scan(json)
        let event = request.events[0]
        #expect(event.defect == nil)
        #expect(event.userId == nil)
        #expect(event.stamp.map { request.entries(of: $0).count } == 1)
    }

    // MARK: Defects

    @Test func everyDefect() throws {
        #expect(try F.scan(#"{"batch":[1]}"#).events[0].defect == .notAnObject)
        #expect(try F.scan(#"{"batch":[[{"type":"track"}]]}"#).events[0].defect == .notAnObject)
        #expect(try F.scan(#"{"batch":["x", null, true]}"#).events.map(\.defect) == [.notAnObject, .notAnObject, .notAnObject])
        let item = try F.scan(#"{"batch":[ "str" ]}"#)
        #expect(F.slice(item.events[0].range, in: #"{"batch":[ "str" ]}"#) == #""str""#)

        #expect(try F.defect(#"{"userId":"u"}"#) == .unknownType)
        #expect(try F.defect(#"{"type":"Track","userId":"u","event":"e"}"#) == .unknownType)
        #expect(try F.defect(#"{"type":7,"userId":"u"}"#) == .unknownType)
        #expect(try F.defect(#"{"type":null,"userId":"u"}"#) == .unknownType)

        #expect(try F.defect(#"{"type":"identify"}"#) == .missingIdentity)
        #expect(try F.defect(#"{"type":"alias","userId":"u"}"#) == .missingIdentity)
        #expect(try F.defect(#"{"type":"alias","previousId":"p","anonymousId":"a"}"#) == .missingIdentity)
        #expect(try F.defect(#"{"type":"alias","previousId":"p","userId":"u"}"#) == nil)

        #expect(try F.defect(#"{"type":"identify","userId":true}"#) == .invalidIdentifier)
        #expect(try F.defect(#"{"type":"identify","anonymousId":{"a":1}}"#) == .invalidIdentifier)
        #expect(try F.defect(#"{"type":"group","userId":"u","groupId":[1]}"#) == .invalidIdentifier)
        #expect(try F.defect(#"{"type":"alias","userId":"u","previousId":false}"#) == .invalidIdentifier)

        #expect(try F.defect(#"{"type":"track","userId":"u"}"#) == .missingEventName)
        #expect(try F.defect(#"{"type":"track","userId":"u","event":1}"#) == .missingEventName)
        #expect(try F.defect(#"{"type":"track","userId":"u","event":null}"#) == .missingEventName)
        #expect(try F.defect(#"{"type":"page","userId":"u"}"#) == nil)

        #expect(try F.defect(#"{"type":"group","userId":"u"}"#) == .missingGroupId)
        #expect(try F.defect(#"{"type":"group","userId":"u","groupId":null}"#) == .missingGroupId)
        #expect(try F.defect(#"{"type":"group","userId":"u","groupId":7}"#) == nil)

        for context in [
            #""context":5"#, #""context":null"#, #""context":[]"#,
            #""context":{"consent":"yes"}"#, #""context":{"consent":[]}"#,
            #""context":{"consent":{"categoryPreferences":[]}}"#,
            #""context":{"consent":{"categoryPreferences":null}}"#,
            #""context":{"consent":{"categoryPreferences":{"A":1}}}"#,
            #""context":{"consent":{"categoryPreferences":{"A":true,"B":"true"}}}"#,
            #""context":{"consent":{"categoryPreferences":{"A":null}}}"#,
            #""context":{"consent":{"categoryPreferences":{"A":{}}}}"#,
        ] {
            let event = try F.event(#"{"type":"identify","userId":"u","# + context + "}")
            #expect(event.defect == .invalidConsentStamp, "\(context)")
            #expect(event.stamp == nil)
        }

        for duplicate in [
            #"{"type":"identify","userId":"u","userId":"v"}"#,
            #"{"type":"identify","type":"identify","userId":"u"}"#,
            #"{"type":"identify","anonymousId":"a","anonymousId":"a"}"#,
            #"{"type":"alias","userId":"u","previousId":"p","previousId":"q"}"#,
            #"{"type":"group","userId":"u","groupId":"g","groupId":"h"}"#,
            #"{"type":"identify","userId":"u","messageId":"m","messageId":"n"}"#,
            #"{"type":"track","userId":"u","event":"e","event":"f"}"#,
            #"{"type":"identify","userId":"u","context":{},"context":{}}"#,
            #"{"type":"identify","userId":"u","context":{"consent":{},"consent":{}}}"#,
            #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{},"categoryPreferences":{}}}}"#,
            #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{"A":true,"A":true}}}}"#,
            #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{"A":true,"\u0041":false}}}}"#,
            #"{"type":"identify","userId":null,"userId":"u"}"#,
        ] {
            #expect(try F.defect(duplicate) == .duplicateKey, "\(duplicate)")
        }
        // Keys that are not interpreted may repeat (JSON allows it).
        #expect(try F.defect(#"{"type":"identify","userId":"u","traits":{},"traits":{},"context":{"ip":"a","ip":"b"}}"#) == nil)
        #expect(try F.defect(#"{"type":"identify","userId":"u","writeKey":"a","writeKey":"b"}"#) == nil)
    }

    @Test func aDuplicateCategoryIsFoundInALargeStamp() throws {
        let entries = (0..<40).map { #""c\#($0)":true"# }
        let clean = #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{"# + entries.joined(separator: ",") + "}}}}"
        let request = try F.scan(#"{"batch":["# + clean + "]}")
        #expect(request.events[0].defect == nil)
        #expect(request.preferences.count == 40)
        let duplicated = (entries + [#""c3":false"#]).joined(separator: ",")
        let dirty = #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{"# + duplicated + "}}}}"
        let bad = try F.scan(#"{"batch":["# + dirty + "]}")
        #expect(bad.events[0].defect == .duplicateKey)
        #expect(bad.preferences.isEmpty)  // a malformed stamp's entries are taken back
    }

    @Test func categoriesThatAreTheSameStringAreDuplicates() throws {
        func stamp(_ entries: String) throws -> EventDefect? {
            try F.defect(#"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{"# + entries + "}}}}")
        }
        // Canonically equivalent spellings (KELVIN SIGN is "K"; "é" precomposed and decomposed).
        #expect(try stamp("\"K\":true,\"\u{212A}\":false") == .duplicateKey)
        #expect(try stamp("\"\u{212A}\":true,\"K\":false") == .duplicateKey)
        #expect(try stamp("\"\u{E9}\":true,\"e\u{301}\":false") == .duplicateKey)
        #expect(try stamp(#""\u00e9":true,"e\u0301":false"#) == .duplicateKey)
        #expect(try stamp(#""A":true,"B":false,"\u0042":true"#) == .duplicateKey)
        #expect(try stamp(#""\u0042":true,"A":false,"B":true"#) == .duplicateKey)
        // Categories equal but for case are one category to a receiver that folds case.
        #expect(try stamp(#""a":true,"A":false,"b":true"#) == .duplicateKey)
        #expect(try stamp(#""a":true,"a ":true,"b":true"#) == nil)
    }

    @Test func categoriesRepeatAcrossEventsAndStamps() throws {
        let stamp = #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{"Ads":true,"Été":false,"\u0041ds2":true}}}}"#
        let json = #"{"context":{"consent":{"categoryPreferences":{"Ads":false}}},"batch":["# + [stamp, stamp, stamp].joined(separator: ",") + "]}"
        let request = try F.scan(json)
        #expect(request.events.allSatisfy { $0.defect == nil })
        #expect(request.sharedStamp.map { Array(request.entries(of: $0)) } == [.init(category: "Ads", granted: false)])
        for event in request.events {
            let entries = try #require(event.stamp.map { Array(request.entries(of: $0)) })
            let expected: [CategoryPreference] = [
                .init(category: "Ads", granted: true), .init(category: "Été", granted: false), .init(category: "Ads2", granted: true),
            ]
            #expect(entries == expected)
        }
        #expect(request.preferences.count == 1 + 3)  // the repeated stamps share one reading
    }

    // MARK: Stamps repeated byte for byte (matched against the ones already read)

    static func stampedEvent(_ stamp: String) -> String {
        #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":"# + stamp + "}}}"
    }

    /// What a scan makes of the last event's stamp: the error code, or the defect and the entries.
    static func lastStamp(_ events: [String]) -> String {
        let json = #"{"batch":["# + events.joined(separator: ",") + "]}"
        do {
            let request = try F.scan(json)
            let event = try #require(request.events.last)
            let entries = event.stamp.map { Array(request.entries(of: $0)) }
            return "defect \(String(describing: event.defect)), text \(String(describing: F.slice(event.stamp?.range, in: json))), entries \(String(describing: entries))"
        } catch let error as WireError {
            return "error \(error.code)"
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func aRepeatedStampSharesTheEntriesOfItsFirstReading() throws {
        let stamp = #"{"Advertising":true,"Analytics":false,"Data\u0053haring":true,"Été":false}"#
        let other = #"{"Advertising":false}"#
        let events = [stamp, other, stamp, stamp, other].map(Self.stampedEvent)
        let request = try F.scan(#"{"batch":["# + events.joined(separator: ",") + "]}")
        #expect(request.events.allSatisfy { $0.defect == nil })
        #expect(request.preferences.count == 4 + 1)
        let expected: [CategoryPreference] = [
            .init(category: "Advertising", granted: true), .init(category: "Analytics", granted: false),
            .init(category: "DataSharing", granted: true), .init(category: "Été", granted: false),
        ]
        for index in [0, 2, 3] {
            let stamp = try #require(request.events[index].stamp)
            #expect(Array(request.entries(of: stamp)) == expected)
        }
        let entryRanges = request.events.compactMap { $0.stamp?.entries }
        #expect(entryRanges == [0..<4, 4..<5, 0..<4, 0..<4, 4..<5])
        // Each stamp still has its own bytes.
        #expect(Set(request.events.compactMap { $0.stamp?.range.lowerBound }).count == 5)
    }

    @Test func aStampThatDiffersFromAnEarlierOneInAnyByteIsReadOnItsOwn() {
        let stamp = #"{"Advertising":true,"Analytics":false,"DataSharing":true}"#
        let unrelated = Self.stampedEvent(#"{"Functional":true}"#)
        let replacements: [UInt8] = Array(#""\{}[],: tfx0"#.utf8) + [0x01, 0x1F, 0x7F, 0xC3, 0xFF]
        var bytes = Array(stamp.utf8)
        for offset in bytes.indices {
            let original = bytes[offset]
            for replacement in replacements where replacement != original {
                bytes[offset] = replacement
                let changed = String(decoding: bytes, as: UTF8.self)
                // Invalid UTF-8 can't go through a String: splice the raw bytes in.
                let changedEvent = bytes.allSatisfy({ $0 < 0x80 }) ? Self.stampedEvent(changed) : nil
                if let changedEvent {
                    // After the original stamp it must fare exactly as after an unrelated one.
                    #expect(
                        Self.lastStamp([Self.stampedEvent(stamp), changedEvent]) == Self.lastStamp([unrelated, changedEvent]),
                        "byte \(offset) -> \(replacement)")
                } else {
                    let head = Array((#"{"batch":["# + Self.stampedEvent(stamp) + ",").utf8)
                    let event = Array(Self.stampedEvent("@").utf8)
                    let at = event.firstIndex(of: UInt8(ascii: "@"))!
                    let body = head + event[..<at] + bytes + event[(at + 1)...] + Array("]}".utf8)
                    #expect(F.errorCode(body) == .invalidJSON, "byte \(offset) -> \(replacement)")
                }
                bytes[offset] = original
            }
            // The document ending inside a repeat of the stamp.
            let truncated = #"{"batch":["# + Self.stampedEvent(stamp) + "," + Self.stampedEvent(String(stamp.prefix(offset)))
            #expect(F.errorCode(String(truncated.dropLast(3))) == .invalidJSON, "truncated at \(offset)")
        }
        // Longer or shorter than the earlier stamp, or the same stamp spaced out.
        for variant in [
            #"{"Advertising":true,"Analytics":false,"DataSharing":true,"X":true}"#,
            #"{"Advertising":true,"Analytics":false}"#,
            #"{"Advertising":true,"Analytics":false,"DataSharing":true,"Analytics":true}"#,
            #"{ "Advertising":true,"Analytics":false,"DataSharing":true}"#,
            #"{"Advertising":true,"Analytics":false,"DataSharing":true }"#,
        ] {
            let event = Self.stampedEvent(variant)
            #expect(Self.lastStamp([Self.stampedEvent(stamp), event]) == Self.lastStamp([unrelated, event]), "\(variant)")
        }
    }

    @Test func aRepeatedStampStillCountsTowardsTheDepthLimit() {
        // The same bytes at depth 4 (the top-level stamp) and at depth 6 (an event's): a limit of 5 refuses the second.
        let stamp = #"{"Ads":true}"#
        let json = #"{"context":{"consent":{"categoryPreferences":"# + stamp + #"}},"batch":["# + Self.stampedEvent(stamp) + "]}"
        #expect(F.errorCode(json, limits: WireLimits(maxDepth: 5)) == .nestingTooDeep)
        #expect(F.errorCode(json, limits: WireLimits(maxDepth: 6)) == nil)
    }

    @Test func theFirstDefectWins() throws {
        #expect(try F.defect(#"{"type":"bogus","userId":true}"#) == .unknownType)
        #expect(try F.defect(#"{"userId":true,"type":"bogus"}"#) == .invalidIdentifier)
        #expect(try F.defect(#"{"userId":"u","userId":"u","context":1}"#) == .duplicateKey)
        #expect(try F.defect(#"{"context":1,"type":"track"}"#) == .invalidConsentStamp)
        #expect(try F.defect(#"{"type":"group"}"#) == .missingIdentity)
        #expect(try F.defect(#"{"type":"track","userId":"u","groupId":1.5}"#) == .invalidIdentifier)
        #expect(try F.defect(#"{"type":"track","userId":"u","groupId":15}"#) == .missingEventName)
    }

    @Test func anInvalidSingleEventIsRefused() throws {
        for (body, defect) in [
            (#"{"event":"e"}"#, EventDefect.missingIdentity),
            (#"{"userId":"u"}"#, .missingEventName),
            (#"{"type":"nope","userId":"u","event":"e"}"#, .unknownType),
            (#"{"userId":"u","event":"e","userId":"v"}"#, .duplicateKey),
            (#"{"userId":"u","event":"e","writeKey":"a","writeKey":"b"}"#, .duplicateKey),
            (#"{"userId":"u","event":"e","context":{"consent":{"categoryPreferences":{"A":"yes"}}}}"#, .invalidConsentStamp),
        ] {
            let error = try #require(F.error(body, route: .single(.track)))
            #expect(error.code == .invalidEvent)
            #expect(error.message.contains(defect.rawValue))
        }
    }

    // MARK: Request errors

    @Test func topLevelMustBeAnObjectWithABatchArray() {
        for body in [#"[]"#, #""batch""#, "1", "null", #"[{"batch":[]}]"#] {
            #expect(F.errorCode(body) == .invalidBatch, "\(body)")
            #expect(F.errorCode(body, route: .single(.identify)) == .invalidBatch, "\(body)")
        }
        #expect(F.errorCode("{}") == .invalidBatch)
        #expect(F.errorCode(#"{"batch":{}}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":null}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"Batch":[]}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"batch":[]}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"b\u0061tch":[]}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"context":{},"context":{}}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"writeKey":"a","writeKey":"b"}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"context":[]}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"context":{"consent":5}}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"context":{"consent":{"categoryPreferences":{"A":1}}}}"#) == .invalidBatch)
        #expect(F.errorCode(#"{"batch":[],"context":{"consent":{"categoryPreferences":{"A":true,"A":true}}}}"#) == .invalidBatch)
        #expect(F.error(#"{"batch":[],"context":{"consent":{"categoryPreferences":[]}}}"#)?.message.contains("categoryPreferences") == true)
        // Valid JSON with an empty batch is a valid (empty) request.
        #expect(F.errorCode(#"{"batch":[]}"#) == nil)
        #expect(F.errorCode(#"{"batch":[],"context":{"consent":{}}}"#) == nil)
    }

    @Test func invalidJSONIsReportedBeforeEnvelopeProblems() {
        #expect(F.errorCode(#"[1,]"#) == .invalidJSON)
        #expect(F.errorCode(#"{"batch":5,"x":tru}"#) == .invalidJSON)
        #expect(F.errorCode(#"{"batch":[],"batch":[],}"#) == .invalidJSON)
        #expect(F.errorCode(#"{"nobatch":1} x"#) == .invalidJSON)
    }

    @Test func malformedDocuments() {
        let bodies = [
            "", " ", "\n\t", "{", "}", #"{"batch":[]"#, #"{"batch":[]}}"#, #"{"batch":[]} {}"#, #"{"batch":[],}"#,
            #"{"batch":[1,]}"#, #"{"batch":[,1]}"#, #"{"batch":[1,,2]}"#, #"{"batch":[1 2]}"#, #"{"batch" []}"#,
            #"{"batch":[],"a":1,}"#, #"{"batch":[],"a"}"#, #"{"batch":[],"a":}"#, #"{"batch":[],:1}"#, #"{"batch":[],1:1}"#,
            #"{'batch':[]}"#, #"{batch:[]}"#, #"{"batch":[{"a":1,}]}"#, #"{"batch":[{"a":1}}"#, #"{"batch":[}"#,
            #"{"batch":[],"x":01}"#, #"{"batch":[],"x":-01}"#, #"{"batch":[],"x":+1}"#, #"{"batch":[],"x":.5}"#,
            #"{"batch":[],"x":1.}"#, #"{"batch":[],"x":1e}"#, #"{"batch":[],"x":1e+}"#, #"{"batch":[],"x":-}"#,
            #"{"batch":[],"x":0x1}"#, #"{"batch":[],"x":NaN}"#, #"{"batch":[],"x":Infinity}"#, #"{"batch":[],"x":1.5.2}"#,
            #"{"batch":[],"x":tru}"#, #"{"batch":[],"x":True}"#, #"{"batch":[],"x":nul}"#, #"{"batch":[],"x":nulll}"#,
            #"{"batch":[],"x":falsy}"#, #"{"batch":[],"x":"abc}"#, #"{"batch":[],"x":"\x"}"#, #"{"batch":[],"x":"\U0041"}"#,
            #"{"batch":[],"x":"\u12"}"#, #"{"batch":[],"x":"\u12G4"}"#, #"{"batch":[],"x":"\"}"#, #"{"batch":[],"x":"\'"}"#,
            "{\"batch\":[],\"x\":\"a\tb\"}", "{\"batch\":[],\"x\":\"a\nb\"}", "{\"batch\":[],\"x\":\"a\u{0}b\"}",
            "{\"batch\":[],\"x\":\"\u{1F}\"}", "{\"batch\":[]\u{0B}}", "{\"batch\":[]\u{0C}}", "{\"batch\":[]\u{A0}}",
            "\u{FEFF}{\"batch\":[]}", "{\"batch\":[]}/**/", "{\"batch\":[]}\u{0}",
            // Control characters where the scanner reads eight bytes at a time.
            "{\"batch\":[],\"x\":\"abcdefghijklmnop\u{1}qrstuvwxyz\"}", "{\"batch\":[],\"abcdefghijklmnop\u{1F}qrstuvwxyz\":1}",
        ]
        for body in bodies {
            #expect(F.errorCode(body) == .invalidJSON, "\(body.debugDescription)")
        }
    }

    @Test func wellFormedOddities() throws {
        let bodies = [
            " \t\r\n{ \t\r\n\"batch\" \t\r\n: \t\r\n[ \t\r\n] \t\r\n} \t\r\n",
            #"{"batch":[],"x":[0,-0,1,-1,0.0,-0.5e-3,1E+2,1e2,12345678901234567890,0e0,1.25E-7]}"#,
            #"{"batch":[],"x":[true,false,null,"",{},[],[[]],{"":{}}]}"#,
            #"{"batch":[],"x":"\"\\\/\b\f\n\r\t\u0000\u001F\uFFFF\uD800\uDC00\uDBFF\uDFFF"}"#,
            "{\"batch\":[],\"x\":\"\u{7F}é€😀\u{10FFFF}\"}",
            #"{"batch":[],"":1,"batch\u0000":2}"#,
        ]
        for body in bodies {
            #expect(F.errorCode(body) == nil, "\(body.debugDescription)")
        }
    }

    @Test func longRunsOfWhiteSpace() throws {
        func spaces(_ n: Int) -> String { String(repeating: " ", count: n) }
        for n in [7, 8, 9, 15, 16, 17, 40] {
            let event = "{\"type\":" + spaces(n) + "\"page\",\"userId\":\"u\"" + spaces(n) + "}"
            let body = spaces(n) + "{" + spaces(n) + "\"batch\"" + spaces(n) + ":" + "\n" + spaces(n) + "[" + spaces(n) + "\t"
                + spaces(n) + event + spaces(n) + "]\r\n" + spaces(n) + "}" + spaces(n)
            let request = try F.scan(body)
            #expect(request.events.count == 1 && request.events[0].defect == nil, "\(n)")
            #expect(F.errorCode("{\"batch\":[]" + spaces(n) + "\u{0B}}") == .invalidJSON, "\(n)")
            #expect(F.errorCode("{\"batch\":[]" + spaces(n) + "x}") == .invalidJSON, "\(n)")
            #expect(F.errorCode("{\"batch\":[]}" + spaces(n) + "x") == .invalidJSON, "\(n)")
            #expect(F.errorCode("{\"batch\":[" + spaces(n)) == .invalidJSON, "\(n)")
        }
    }

    @Test func invalidUTF8IsRefused() {
        let sequences: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x80, 0xAF], [0xE0, 0x9F, 0xBF],
            [0xE2, 0x82], [0xE2, 0x28, 0xA1], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF0, 0x80, 0x80, 0xAF],
            [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
            [0xFE], [0xFF], [0xF0, 0x9F, 0x98], [0xF0, 0x9F, 0x98, 0x41],
        ]
        let prefix = Array(#"{"batch":[{"type":"identify","userId":""#.utf8)
        let suffix = Array(#""}]}"#.utf8)
        for sequence in sequences {
            #expect(F.errorCode(prefix + sequence + suffix) == .invalidJSON, "\(sequence)")
            // In a key, and long enough that the word-at-a-time path sees it.
            let key = Array(#"{"batch":[],"abcdefghijklmnop"#.utf8) + sequence + Array(#"qrstuvwxyz":1}"#.utf8)
            #expect(F.errorCode(key) == .invalidJSON, "\(sequence)")
        }
        // Outside strings, any non-ASCII byte is an unexpected token.
        #expect(F.errorCode(Array(#"{"batch":[]"#.utf8) + [0xC3, 0xA9] + [0x7D]) == .invalidJSON)
        // Boundary scalars that are valid.
        for valid: [UInt8] in [[0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
            [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF]]
        {
            #expect(F.errorCode(prefix + valid + suffix) == nil, "\(valid)")
        }
    }

    @Test func loneSurrogateEscapesAreRefused() {
        for escape in [#"\uD800"#, #"\udbff"#, #"\uDC00"#, #"\uDFFF"#, #"\uD800x"#, #"\uD800\u0041"#, #"\uD800\uD800"#,
            #"\uDC00\uD800"#, #"\uD800\n"#, #"\uD800\uDCZ0"#, #"\uD83D"#]
        {
            #expect(F.errorCode(#"{"batch":[],"x":"a"# + escape + #"b"}"#) == .invalidJSON, "\(escape)")
            #expect(F.errorCode(#"{"batch":[],"k"# + escape + #"":1}"#) == .invalidJSON, "\(escape)")
        }
        #expect(F.errorCode(#"{"batch":[],"x":"\uD83D\uDE00"}"#) == nil)
    }

    @Test func errorMessagesNameTheOffsetButNotThePayload() throws {
        let error = try #require(F.error(#"{"batch":[],"SECRET-VALUE":"SECRET"x}"#))
        #expect(error.code == .invalidJSON)
        #expect(!error.message.contains("SECRET"))
        #expect(error.message.contains("byte 35"))
        let string = try #require(F.error(#"{"batch":[],"x":"SECRET\q"}"#))
        #expect(string.message.contains("escape") && string.message.contains("byte 23"))
        #expect(!string.message.contains("SECRET"))
    }

    // MARK: Limits

    /// A track event padded to exactly `size` bytes.
    static func event(ofSize size: Int) -> String {
        let head = #"{"type":"track","userId":"u","event":"e","properties":{"pad":""#
        let tail = #""}}"#
        return head + String(repeating: "x", count: size - head.utf8.count - tail.utf8.count) + tail
    }

    @Test func singleEventSizeBoundary() {
        #expect(Self.event(ofSize: 32768).utf8.count == 32768)
        #expect(F.errorCode(Self.event(ofSize: 32768), route: .single(.track)) == nil)
        #expect(F.errorCode(Self.event(ofSize: 32769), route: .single(.track)) == .eventTooLarge)
        // Checked before scanning: not even valid JSON.
        #expect(F.errorCode(String(repeating: "[", count: 40_000), route: .single(.track)) == .eventTooLarge)
    }

    @Test func batchItemSizeBoundary() {
        #expect(F.errorCode(#"{"batch":["# + Self.event(ofSize: 32768) + "]}") == nil)
        #expect(F.errorCode(#"{"batch":["# + Self.event(ofSize: 32769) + "]}") == .eventTooLarge)
        // A non-object item counts too.
        let bigString = "\"" + String(repeating: "x", count: 32768) + "\""
        #expect(F.errorCode(#"{"batch":["# + bigString + "]}") == .eventTooLarge)
        let limits = WireLimits(maxEventBytes: 100)
        #expect(F.errorCode(#"{"batch":["# + Self.event(ofSize: 100) + "]}", limits: limits) == nil)
        #expect(F.errorCode(#"{"batch":["# + Self.event(ofSize: 101) + "]}", limits: limits) == .eventTooLarge)
    }

    @Test func batchSizeBoundary() {
        let head = #"{"batch":[],"pad":""#
        func body(_ size: Int) -> String { head + String(repeating: "y", count: size - head.utf8.count - 2) + "\"}" }
        #expect(body(512_000).utf8.count == 512_000)
        #expect(F.errorCode(body(512_000)) == nil)
        #expect(F.errorCode(body(512_001)) == .batchTooLarge)
        #expect(F.errorCode(String(repeating: "{", count: 600_000)) == .batchTooLarge)
    }

    @Test func eventCountBoundary() throws {
        let event = #"{"type":"track","userId":"u","event":"e"}"#
        func body(_ count: Int) -> String { #"{"batch":["# + Array(repeating: event, count: count).joined(separator: ",") + "]}" }
        #expect(try F.scan(body(2500)).events.count == 2500)
        #expect(F.errorCode(body(2501)) == .tooManyEvents)
        let limits = WireLimits(maxEventsPerBatch: 2)
        #expect(F.errorCode(#"{"batch":[1,2]}"#, limits: limits) == nil)
        #expect(F.errorCode(#"{"batch":[1,2,3]}"#, limits: limits) == .tooManyEvents)
    }

    @Test(.timeLimit(.minutes(1))) func hostileNestingIsRefusedWithoutRecursion() {
        let deep = 100_000
        let arrays = String(repeating: "[", count: deep) + String(repeating: "]", count: deep)
        let objects = String(repeating: #"{"a":"#, count: deep) + "1" + String(repeating: "}", count: deep)
        let big = WireLimits(maxEventBytes: 10_000_000, maxBatchBytes: 10_000_000)
        for route in [TrackingRoute.batch, .single(.track)] {
            #expect(F.errorCode(arrays, route: route, limits: big) == .nestingTooDeep)
            #expect(F.errorCode(objects, route: route, limits: big) == .nestingTooDeep)
            #expect(F.errorCode(#"{"batch":[],"x":"# + arrays + "}", route: route, limits: big) == .nestingTooDeep)
            #expect(F.errorCode(#"{"batch":["# + arrays + "]}", route: route, limits: big) == .nestingTooDeep)
            #expect(F.errorCode(String(repeating: "[", count: deep), route: route, limits: big) == .nestingTooDeep)
        }
        // Even a limit far above the document's depth is safe: nothing recurses.
        let unlimited = WireLimits(maxEventBytes: 10_000_000, maxBatchBytes: 10_000_000, maxDepth: .max)
        #expect(F.errorCode(#"{"batch":[],"x":"# + arrays + "}", limits: unlimited) == nil)
        #expect(F.errorCode(#"{"batch":[],"x":"# + objects + "}", limits: unlimited) == nil)
        #expect(F.errorCode(#"{"batch":[],"x":"# + String(repeating: "[", count: deep) + "}", limits: unlimited) == .invalidJSON)
    }

    @Test func depthLimitIsExact() {
        // Depth counts every array and object, the top-level object included.
        let limits = WireLimits(maxDepth: 6)
        let atLimit = #"{"batch":[{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":{}}}}]}"#
        #expect(F.errorCode(atLimit, limits: limits) == nil)
        #expect(F.errorCode(atLimit, limits: WireLimits(maxDepth: 5)) == .nestingTooDeep)
        #expect(F.errorCode(#"{"batch":[{"p":{"q":{"r":[]}}}]}"#, limits: limits) == nil)
        #expect(F.errorCode(#"{"batch":[{"p":{"q":{"r":[[]]}}}]}"#, limits: limits) == .nestingTooDeep)
        #expect(F.errorCode(#"{"batch":[],"x":[[[[[]]]]]}"#, limits: limits) == nil)
        #expect(F.errorCode(#"{"batch":[],"x":[[[[[[]]]]]]}"#, limits: limits) == .nestingTooDeep)
        #expect(F.errorCode(#"{"batch":[[[[[]]]]]}"#, limits: limits) == nil)
        #expect(F.errorCode(#"{"batch":[[[[[[]]]]]]}"#, limits: limits) == .nestingTooDeep)
        #expect(F.errorCode(#"{"a":{"b":{}}}"#, route: .single(.identify), limits: WireLimits(maxDepth: 2)) == .nestingTooDeep)
        #expect(F.errorCode(#"{"userId":"u","a":{"b":1}}"#, route: .single(.identify), limits: WireLimits(maxDepth: 2)) == nil)
        let defaultDepth = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        #expect(F.errorCode(#"{"batch":[],"x":"# + defaultDepth + "}") == nil)
        #expect(F.errorCode(#"{"batch":[],"x":["# + defaultDepth + "]}") == .nestingTooDeep)
    }

    // MARK: validate

    @Test func validateAcceptsAnyTopLevelValue() {
        func accepts(_ s: String, maxDepth: Int = 64) -> Bool {
            Array(s.utf8).withUnsafeBytes { body in
                do {
                    try BatchScanner.validate(body, maxDepth: maxDepth)
                    return true
                } catch {
                    return false
                }
            }
        }
        #expect(accepts("1") && accepts(" \"a\" ") && accepts("null") && accepts("[]") && accepts("{}") && accepts("-0.1e5"))
        #expect(!accepts("") && !accepts("1 2") && !accepts("[") && !accepts("tru") && !accepts("01"))
        #expect(accepts("[[]]", maxDepth: 2) && !accepts("[[[]]]", maxDepth: 2) && !accepts("[]", maxDepth: 0))
    }

    // MARK: JSONString

    @Test func quotingRoundTrips() throws {
        let samples = ["", "plain", "q\"b\\s/", "\u{0}\u{1}\u{8}\u{9}\u{A}\u{C}\u{D}\u{1F}\u{7F}", "é€😀", "\u{2028}"]
        for sample in samples {
            var out: [UInt8] = Array(#"{"batch":[],"x":"#.utf8)
            JSONString.appendQuoted(sample, to: &out)
            let quoted = out[16...]
            #expect(!quoted.dropFirst().dropLast().contains { $0 < 0x20 })
            out.append(UInt8(ascii: "}"))
            #expect(F.errorCode(out) == nil)
            let ref = ValueRef(range: 16..<(out.count - 1), kind: .string, hasEscapes: quoted.contains(UInt8(ascii: "\\")))
            #expect(out.withUnsafeBytes { JSONString.decode(ref, in: $0) } == sample)
            #expect(out.withUnsafeBytes { JSONString.equals(ref, sample, in: $0) })
        }
        var out: [UInt8] = []
        JSONString.appendQuoted("a\"\n\u{1}", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\"\n\u0001""#)
    }

    @Test func decodingIsDefensive() {
        let bytes = Array(#""\uD800 \uDC00 \x \u12 \"#.utf8)
        bytes.withUnsafeBytes { body in
            let ref = ValueRef(range: 0..<body.count, kind: .string, hasEscapes: true)
            #expect(JSONString.decode(ref, in: body) == "\u{FFFD} \u{FFFD} \\x \\u12 ")
            #expect(JSONString.decode(ValueRef(range: 0..<(body.count + 5), kind: .string, hasEscapes: true), in: body) == "")
            #expect(JSONString.decode(ValueRef(range: 3..<3, kind: .string, hasEscapes: false), in: body) == "")
            #expect(!JSONString.equals(ValueRef(range: -1..<2, kind: .number, hasEscapes: false), "", in: body))
        }
    }
}
