import Foundation
import Testing
import WireTestSupport

@testable import SegmentWire

// Differential tests: the scanner must accept exactly the documents Foundation's JSONSerialization accepts,
// and locate the same values. Documents are generated from fixed seeds, so a failure reproduces from the
// seed and index printed with it.
//
// Known differences of swift-corelibs-foundation on Linux, excluded precisely (each case is checked to be
// of that class, and counted):
// - Foundation accepts a trailing comma in arrays and objects (`[1,]`, `{"a":1,}`); RFC 8259 does not,
//   nor does consentgate. Such a case must be refused by us with "trailing comma", and removing the
//   comma must make both sides agree.
// - Foundation refuses numbers whose magnitude overflows a Double (`1e400`, 310 digits) as
//   "not representable"; RFC 8259's grammar allows them, and consentgate never converts numbers.
//   The generator keeps magnitudes below 1e300, so only mutations produce them.
// - Foundation skips a leading UTF-8 byte-order mark and guesses UTF-16/32 from NUL bytes at the start;
//   every document here starts with a fixed `{"` prefix, so that class cannot occur.

/// Generates random valid JSON (and corrupts it).
struct JSONGenerator {
    var rng: SplitMix64
    /// Containers nest at most this deep inside a generated value.
    var maxDepth = 7

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    mutating func whitespace(_ out: inout [UInt8]) {
        guard chance(0.3) else { return }
        for _ in 0..<int(1...3) { out.append(pick([0x20, 0x09, 0x0A, 0x0D])) }
    }

    mutating func value(depth: Int = 0, into out: inout [UInt8]) {
        let kinds = depth >= maxDepth ? 5 : 7
        switch int(0...(kinds - 1)) {
        case 0, 1: string(into: &out)
        case 2, 3: number(into: &out)
        case 4: out += Array(pick(["true", "false", "null"]).utf8)
        case 5: object(depth: depth, into: &out)
        default: array(depth: depth, into: &out)
        }
    }

    mutating func object(depth: Int, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        whitespace(&out)
        for index in 0..<int(0...4) {
            if index > 0 {
                out.append(UInt8(ascii: ","))
                whitespace(&out)
            }
            string(into: &out)
            whitespace(&out)
            out.append(UInt8(ascii: ":"))
            whitespace(&out)
            value(depth: depth + 1, into: &out)
            whitespace(&out)
        }
        out.append(UInt8(ascii: "}"))
    }

    mutating func array(depth: Int, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        whitespace(&out)
        for index in 0..<int(0...4) {
            if index > 0 {
                out.append(UInt8(ascii: ","))
                whitespace(&out)
            }
            value(depth: depth + 1, into: &out)
            whitespace(&out)
        }
        out.append(UInt8(ascii: "]"))
    }

    mutating func hex4(_ unit: Int, into out: inout [UInt8]) {
        let digits = Array((chance(0.5) ? "0123456789abcdef" : "0123456789ABCDEF").utf8)
        for shift in [12, 8, 4, 0] { out.append(digits[(unit >> shift) & 0xF]) }
    }

    mutating func string(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let length = chance(0.1) ? int(20...80) : int(0...12)
        for _ in 0..<length {
            switch int(0...9) {
            case 0...4:
                var b = UInt8(int(0x20...0x7E))
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { b = UInt8(ascii: "a") }
                out.append(b)
            case 5:
                out += Array(pick([#"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#]).utf8)
            case 6:
                let unit = chance(0.5) ? int(0...0xD7FF) : int(0xE000...0xFFFF)
                out += Array(#"\u"#.utf8)
                hex4(unit, into: &out)
            case 7:
                let scalar = int(0x10000...0x10FFFF) - 0x10000
                out += Array(#"\u"#.utf8)
                hex4(0xD800 + (scalar >> 10), into: &out)
                out += Array(#"\u"#.utf8)
                hex4(0xDC00 + (scalar & 0x3FF), into: &out)
            case 8:
                let scalar = pick([int(0x80...0x7FF), int(0x800...0xD7FF), int(0xE000...0xFFFF), int(0x10000...0x10FFFF)])
                out += Array(String(Character(Unicode.Scalar(UInt32(scalar))!)).utf8)
            default:
                out.append(0x7F)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    mutating func number(into out: inout [UInt8]) {
        var text = chance(0.3) ? "-" : ""
        if chance(0.2) {
            text += "0"
        } else {
            text += String(int(1...9))
            for _ in 0..<int(0...15) { text += String(int(0...9)) }
        }
        if chance(0.4) {
            text += "."
            for _ in 0..<int(1...10) { text += String(int(0...9)) }
        }
        if chance(0.3) {
            text += pick(["e", "E"]) + pick(["", "+", "-"])
            let exponent = int(0...280)
            text += (chance(0.2) ? "0" : "") + String(exponent)
        }
        out += Array(text.utf8)
    }

    // MARK: Corruption

    static let invalidUTF8: [[UInt8]] = [
        [0x80], [0xC0, 0xAF], [0xC2], [0xE0, 0x80, 0xAF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xF0, 0x9F, 0x98],
    ]

    /// Applies one to three random corruptions (the result may happen to stay valid).
    mutating func mutate(_ doc: [UInt8]) -> [UInt8] {
        var doc = doc
        for _ in 0..<int(1...3) {
            let at = int(0...doc.count)
            let inside = doc.isEmpty ? 0 : int(0...(doc.count - 1))
            switch int(0...12) {
            case 0: doc.removeSubrange(at...)
            case 1: if !doc.isEmpty { doc[inside] = UInt8(int(0...255)) }
            case 2: doc.insert(UInt8(int(0...0x1F)), at: at)
            case 3:
                if let backslash = doc.indices.filter({ doc[$0] == UInt8(ascii: "\\") }).randomElement(using: &rng),
                    backslash + 1 < doc.count
                {
                    doc[backslash + 1] = pick(Array("xU'0a 8\"u".utf8))
                } else {
                    doc.insert(contentsOf: [UInt8(ascii: "\\"), UInt8(int(0x20...0x7E))], at: at)
                }
            case 4: doc.insert(contentsOf: pick(Self.invalidUTF8), at: at)
            case 5:
                if let close = doc.indices.filter({ doc[$0] == UInt8(ascii: "]") || doc[$0] == UInt8(ascii: "}") })
                    .randomElement(using: &rng)
                {
                    doc.insert(UInt8(ascii: ","), at: close)
                }
            case 6:
                if let digit = doc.indices.filter({ JSONCursor.isDigit(doc[$0]) }).randomElement(using: &rng) {
                    doc.insert(UInt8(ascii: "0"), at: digit)
                }
            case 7: if !doc.isEmpty { doc.remove(at: inside) }
            case 8: doc.insert(pick(Array("{}[],:\"-.eE+ 0tfn\\".utf8)), at: at)
            case 9:
                let end = int(at...doc.count)
                doc.insert(contentsOf: Array(doc[at..<end]), at: int(0...doc.count))
            case 10: doc.insert(contentsOf: Array(pick([#"\uD800"#, #"\uDC00"#, #"\uDBFF\u0041"#, #"\u12"#]).utf8), at: at)
            case 11:
                if doc.count > 1 { doc.swapAt(inside, int(0...(doc.count - 1))) }
            default:
                let literal = pick(["tru", "nul", "fals", "True", "NaN", "-", ".5", "1.", "1e", "+1", "01", "0x1", "--1"])
                doc.insert(contentsOf: Array(literal.utf8), at: at)
            }
        }
        return doc
    }
}

/// Whether Foundation accepts a document, and why not.
enum FoundationOracle {
    enum Verdict: Equatable {
        case accepted
        case refused(String)

        var accepted: Bool { self == .accepted }
    }

    static func parse(_ bytes: [UInt8], fragments: Bool = false) -> Verdict {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes), options: fragments ? [.fragmentsAllowed] : [])
            return .accepted
        } catch {
            return .refused((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)")
        }
    }

    static func object(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes))
    }
}

@Suite struct JSONDifferentialTests {
    /// Our verdict on a document: `nil` when accepted, else the error.
    static func validate(_ bytes: [UInt8]) -> WireError? {
        bytes.withUnsafeBytes { body -> WireError? in
            do throws(WireError) {
                try BatchScanner.validate(body, maxDepth: 64)
                return nil
            } catch {
                return error
            }
        }
    }

    static func scan(_ bytes: [UInt8], route: TrackingRoute) -> WireError? {
        do {
            _ = try ScanFixture.scan(bytes, route: route)
            return nil
        } catch {
            return error
        }
    }

    /// Tallies of the excluded known differences.
    struct Tally {
        var documents = 0
        var refused = 0
        var trailingCommas = 0
        var unrepresentable = 0
    }

    /// Asserts that we and Foundation agree on `doc`, up to the documented known differences.
    /// - Returns: whether the document is valid JSON (by our verdict), after the exclusions were checked.
    @discardableResult
    static func expectAgreement(_ doc: [UInt8], ours: ([UInt8]) -> WireError?, _ tally: inout Tally, _ label: String) -> Bool {
        tally.documents += 1
        var doc = doc
        for _ in 0..<8 {
            let us = ours(doc)
            let them = FoundationOracle.parse(doc)
            if us == nil && them.accepted { return true }
            if let us, !them.accepted {
                #expect(us.code == .invalidJSON || us.code == .nestingTooDeep, "\(label): \(us)")
                tally.refused += 1
                return false
            }
            if case .refused(let why) = them, us == nil {
                #expect(why.contains("not representable"), "\(label): only Foundation refuses: \(why)")
                tally.unrepresentable += 1
                return true
            }
            // Only we refuse: it must be a trailing comma, and without it we must agree again.
            guard let us, us.message.contains("trailing comma"), let offset = Self.offset(in: us.message),
                let comma = doc[..<offset].lastIndex(of: UInt8(ascii: ","))
            else {
                Issue.record("\(label): only we refuse: \(String(describing: us)); \(String(decoding: doc, as: UTF8.self).debugDescription)")
                return false
            }
            #expect(doc[(comma + 1)..<offset].allSatisfy { [0x20, 0x09, 0x0A, 0x0D].contains($0) })
            tally.trailingCommas += 1
            doc.remove(at: comma)
        }
        Issue.record("\(label): too many trailing commas")
        return false
    }

    static func offset(in message: String) -> Int? {
        guard let range = message.range(of: "at byte ") else { return nil }
        return Int(message[range.upperBound...].prefix { $0.isNumber })
    }

    @Test(arguments: 1...8 as ClosedRange<UInt64>)
    func acceptanceAgreesWithFoundation(seed: UInt64) {
        var generator = JSONGenerator(seed: seed)
        var tally = Tally()
        for index in 0..<1_000 {
            var value: [UInt8] = []
            generator.whitespace(&value)
            generator.value(into: &value)
            generator.whitespace(&value)
            let mutated = index % 2 == 1
            if mutated { value = generator.mutate(value) }
            let label = "seed \(seed) #\(index)"

            // The value in a batch envelope, through validate and through the batch scan.
            let envelope = Array(#"{"batch":[],"x":"#.utf8) + value + [UInt8(ascii: "}")]
            let valid = Self.expectAgreement(envelope, ours: Self.validate, &tally, label + " validate")
            Self.expectAgreement(envelope, ours: { Self.scan($0, route: .batch) }, &tally, label + " batch")
            // Inside an event of a batch, and inside a single event: the interpreting paths.
            let inEvent = Array(#"{"batch":[{"type":"track","userId":"u","event":"e","properties":"#.utf8) + value
                + Array(#","context":{"consent":{"categoryPreferences":{"A":true}}}}]}"#.utf8)
            Self.expectAgreement(inEvent, ours: { Self.scan($0, route: .batch) }, &tally, label + " event")
            let single = Array(#"{"userId":"u","traits":"#.utf8) + value + [UInt8(ascii: "}")]
            Self.expectAgreement(single, ours: { Self.scan($0, route: .single(.identify)) }, &tally, label + " single")
            // Unmutated values also as top-level fragments (no encoding guessing: they hold no NUL bytes).
            if !mutated {
                #expect(valid)
                #expect(Self.validate(value) == nil, "\(label) fragment")
                #expect(FoundationOracle.parse(value, fragments: true).accepted, "\(label) fragment")
            }
        }
        // The mutator must mostly produce invalid documents, and exclusions must stay rare.
        #expect(tally.refused > tally.documents / 5)
        #expect(tally.unrepresentable < tally.documents / 100)
    }

    // MARK: Extracted values

    /// A key, with some characters written as `\u00XX` escapes.
    static func key(_ name: String, _ generator: inout JSONGenerator) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in name.utf8 {
            if byte < 0x80 && generator.chance(0.1) {
                out += Array(#"\u00"#.utf8)
                out += Array(String(format: "%02x", byte).utf8)
            } else {
                out.append(byte)
            }
        }
        return out + [UInt8(ascii: "\"")]
    }

    /// An identifier: a string, an integer, `null`, or `""`; `nil` to leave the member out.
    static func identifier(_ generator: inout JSONGenerator) -> [UInt8]? {
        switch generator.int(0...9) {
        case 0: return nil
        case 1: return Array("null".utf8)
        case 2: return Array(#""""#.utf8)
        case 3: return Array(String(generator.int(-1_000_000...1_000_000_000)).utf8)
        default:
            var out: [UInt8] = []
            generator.string(into: &out)
            return out
        }
    }

    /// A valid event with random members in random order (and an identity that satisfies its type).
    static func event(_ generator: inout JSONGenerator) -> [UInt8] {
        let type = generator.pick(EventType.allCases)
        var members: [(String, [UInt8])] = [("type", Array("\"\(type.name)\"".utf8))]
        // The identity the type needs, under a key not otherwise used.
        let required = type == .alias ? ["userId", "previousId"] : [generator.pick(["userId", "anonymousId"])]
        for name in required { members.append((name, Array("\"id-\(generator.int(0...99))\"".utf8))) }
        for name in ["userId", "anonymousId"] where !required.contains(name) {
            if let value = identifier(&generator) { members.append((name, value)) }
        }
        if type == .track {
            var name: [UInt8] = []
            generator.string(into: &name)
            members.append(("event", name))
        }
        if type == .group {
            let numeric = generator.chance(0.3)
            let id = generator.int(0...99)
            members.append(("groupId", Array((numeric ? "\(id)" : "\"g-\(id)\"").utf8)))
        }
        if generator.chance(0.8) {
            var id: [UInt8] = []
            generator.string(into: &id)
            members.append(("messageId", id))
        }
        for _ in 0..<generator.int(0...3) {
            var value: [UInt8] = []
            generator.value(depth: 3, into: &value)
            members.append((generator.pick(["properties", "traits", "timestamp", "x"]) + String(members.count), value))
        }
        if generator.chance(0.7) {
            var context: [UInt8] = [UInt8(ascii: "{")]
            var contextMembers: [[UInt8]] = []
            if generator.chance(0.5) { contextMembers.append(Array(#""ip":"1.2.3.4""#.utf8)) }
            if generator.chance(0.8) {
                var preferences: [UInt8] = [UInt8(ascii: "{")]
                for index in 0..<generator.int(0...6) {
                    if index > 0 { preferences.append(UInt8(ascii: ",")) }
                    var name: [UInt8] = []
                    generator.string(into: &name)
                    // Distinct keys: a unique prefix inside the quotes.
                    preferences += [UInt8(ascii: "\"")] + Array("c\(index)-".utf8) + name.dropFirst()
                    preferences += Array((generator.chance(0.5) ? ":true" : " : false").utf8)
                }
                preferences.append(UInt8(ascii: "}"))
                let consent = key("consent", &generator) + Array(":{".utf8) + key("categoryPreferences", &generator)
                    + [UInt8(ascii: ":")] + preferences + [UInt8(ascii: "}")]
                contextMembers.insert(consent, at: generator.int(0...contextMembers.count))
            }
            context += Array(contextMembers.joined(separator: [UInt8(ascii: ",")]))
            context.append(UInt8(ascii: "}"))
            members.append(("context", context))
        }
        members.shuffle(using: &generator.rng)
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, (name, value)) in members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            generator.whitespace(&out)
            out += key(name, &generator)
            generator.whitespace(&out)
            out.append(UInt8(ascii: ":"))
            out += value
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Our identifier's text as Foundation would show it (a number as its integer value).
    static func expectSameIdentifier(_ ref: ValueRef?, _ theirs: Any?, in body: UnsafeRawBufferPointer, _ label: String) {
        switch theirs {
        case let string as String:
            if string.isEmpty {
                #expect(ref == nil, "\(label)")
            } else {
                #expect(ref.map { JSONString.decode($0, in: body) } == string, "\(label)")
                #expect(ref.map { JSONString.equals($0, string, in: body) } == true, "\(label)")
            }
        case let number as NSNumber:
            #expect(ref?.kind == .number, "\(label)")
            #expect(ref.flatMap { Int64(JSONString.decode($0, in: body)) } == number.int64Value, "\(label)")
        default:
            #expect(ref == nil, "\(label)")
        }
    }

    @Test(arguments: 1...6 as ClosedRange<UInt64>)
    func extractedValuesAgreeWithFoundation(seed: UInt64) throws {
        var generator = JSONGenerator(seed: seed &* 7919)
        generator.maxDepth = 5
        for index in 0..<150 {
            let label = "seed \(seed) #\(index)"
            let count = generator.int(0...12)
            var body = Array(#"{"writeKey":"wk","#.utf8) + Self.key("batch", &generator) + Array(":[".utf8)
            for eventIndex in 0..<count {
                if eventIndex > 0 { body.append(UInt8(ascii: ",")) }
                generator.whitespace(&body)
                body += Self.event(&generator)
            }
            body += Array(#"], "sentAt":"2024-01-01T00:00:00Z"}"#.utf8)

            let theirs = try #require(FoundationOracle.object(body) as? [String: Any], "\(label)")
            let theirEvents = try #require(theirs["batch"] as? [[String: Any]], "\(label)")
            let request = try ScanFixture.scan(body)
            try #require(request.events.count == theirEvents.count, "\(label)")
            body.withUnsafeBytes { raw in
                #expect(request.writeKey.map { JSONString.decode($0, in: raw) } == "wk")
                #expect(request.sentAt.map { JSONString.decode($0, in: raw) } == "2024-01-01T00:00:00Z")
                for (event, their) in zip(request.events, theirEvents) {
                    #expect(event.defect == nil, "\(label)")
                    #expect(event.type?.name == their["type"] as? String, "\(label)")
                    Self.expectSameIdentifier(event.userId, their["userId"], in: raw, label + " userId")
                    Self.expectSameIdentifier(event.anonymousId, their["anonymousId"], in: raw, label + " anonymousId")
                    Self.expectSameIdentifier(event.previousId, their["previousId"], in: raw, label + " previousId")
                    Self.expectSameIdentifier(event.groupId, their["groupId"], in: raw, label + " groupId")
                    #expect(event.messageId.map { JSONString.decode($0, in: raw) } == their["messageId"] as? String, "\(label)")
                    #expect(event.eventName.map { JSONString.decode($0, in: raw) } == their["event"] as? String, "\(label)")
                    let theirContext = their["context"] as? [String: Any]
                    #expect((event.context != nil) == (theirContext != nil), "\(label)")
                    let theirPreferences = (theirContext?["consent"] as? [String: Any])?["categoryPreferences"] as? [String: Any]
                    if let theirPreferences {
                        let stamp = event.stamp.map { Array(request.entries(of: $0)) } ?? []
                        #expect(stamp.count == theirPreferences.count, "\(label)")
                        for entry in stamp {
                            #expect((theirPreferences[entry.category] as? Bool) == entry.granted, "\(label) \(entry.category)")
                        }
                    } else {
                        #expect(event.stamp == nil, "\(label)")
                    }
                }
            }
        }
    }
}
