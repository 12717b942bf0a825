// Receivers' readings of what consentgate forwards (issue "Consent smuggling"): an independent, plain
// parse of the forwarded body that keeps every member of an object (duplicates included), read the
// ways a receiver plausibly reads it — exact keys with the last or the first of two equal keys
// winning, or Go's case-folding match (`ſ` is `s`, `K` is `k`, last match wins); ids as their text or
// through a 64-bit float; the batch's `context` merged into each event with either side winning, shallow
// or key by key. A forwarded event must name the same subject under every reading as consentgate
// decided for, and, where consentgate had its truth, carry under every reading a stamp that grants
// nothing the truth denies.
import ConsentCore
import SegmentWire

/// A parsed JSON value; object members in order, duplicates kept.
indirect enum Raw {
    case object([(key: [UInt8], value: Raw)])
    case array([Raw])
    case string([UInt8])
    case number([UInt8])
    case bool(Bool)
    case null

    /// Parses a document already known to be valid JSON.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Raw? {
        var i = 0
        func space() { while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
        func hex() -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[i]
                value = value << 4 | UInt32(b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10)
                i += 1
            }
            return value
        }
        func string() -> [UInt8] {
            i += 1
            var out: [UInt8] = []
            while bytes[i] != UInt8(ascii: "\"") {
                guard bytes[i] == UInt8(ascii: "\\") else {
                    out.append(bytes[i])
                    i += 1
                    continue
                }
                i += 1
                let escape = bytes[i]
                i += 1
                switch escape {
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = hex()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        i += 2  // the low surrogate's `\u`, which a valid document always has
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex() - 0xDC00)
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default: out.append(escape)
                }
            }
            i += 1
            return out
        }
        func value() -> Raw {
            space()
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(key: [UInt8], value: Raw)] = []
                space()
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    space()
                    let key = string()
                    space()
                    i += 1  // ':'
                    members.append((key, value()))
                    space()
                    let separator = bytes[i]
                    i += 1
                    if separator == UInt8(ascii: "}") { return .object(members) }
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [Raw] = []
                space()
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    items.append(value())
                    space()
                    let separator = bytes[i]
                    i += 1
                    if separator == UInt8(ascii: "]") { return .array(items) }
                }
            case UInt8(ascii: "\""):
                return .string(string())
            case UInt8(ascii: "t"):
                i += 4
                return .bool(true)
            case UInt8(ascii: "n"):
                i += 4
                return .null
            case UInt8(ascii: "f"):
                i += 5
                return .bool(false)
            default:
                let start = i
                while i < bytes.count, "+-.eE0123456789".utf8.contains(bytes[i]) { i += 1 }
                return .number(Array(bytes[start..<i]))
            }
        }
        guard !bytes.isEmpty else { return nil }
        return value()
    }

    var members: [(key: [UInt8], value: Raw)]? {
        if case .object(let members) = self { members } else { nil }
    }
}

struct Reading: CustomStringConvertible {
    enum Keys: CaseIterable { case exactLast, exactFirst, goFold }
    enum Numbers: CaseIterable { case text, float }
    enum Merge: CaseIterable { case eventWins, batchWins, deepEventWins, deepBatchWins }

    var keys: Keys
    var numbers: Numbers
    var merge: Merge

    var description: String { "\(keys)/\(numbers)/\(merge)" }

    static let all: [Reading] = Keys.allCases.flatMap { keys in
        Numbers.allCases.flatMap { numbers in Merge.allCases.map { Reading(keys: keys, numbers: numbers, merge: $0) } }
    }

    /// Go's fold, for the keys and categories that matter here: ASCII case, `ſ` and `K`.
    static func fold(_ key: [UInt8]) -> [UInt8] {
        let text = String(decoding: key, as: UTF8.self)
        var out: [UInt8] = []
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x41...0x5A: out.append(UInt8(scalar.value) | 0x20)
            case 0x17F: out.append(UInt8(ascii: "s"))
            case 0x212A: out.append(UInt8(ascii: "k"))
            default: out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    func member(_ name: String, of value: Raw?) -> Raw? {
        guard let members = value?.members else { return nil }
        let bytes = Array(name.utf8)
        switch keys {
        case .exactLast: return members.last { $0.key == bytes }?.value
        case .exactFirst: return members.first { $0.key == bytes }?.value
        case .goFold:
            let folded = Self.fold(bytes)
            return members.last { Self.fold($0.key) == folded }?.value
        }
    }

    func id(_ value: Raw?) -> String? {
        switch value {
        case .string(let bytes)?: return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
        case .number(let literal)?:
            let text = String(decoding: literal, as: UTF8.self)
            guard numbers == .float, let double = Double(text) else { return text }
            if double == double.rounded(), abs(double) < 1e18 { return String(Int64(double)) }
            return "\(double)"
        default: return nil
        }
    }

    /// The categories a stamp object grants in this reading (folded under `goFold`); `nil` when there
    /// is no stamp object.
    func granted(_ stamp: Raw?) -> Set<[UInt8]>? {
        guard let members = stamp?.members else { return nil }
        var values: [[UInt8]: Bool] = [:]
        for (key, value) in keys == .exactFirst ? members.reversed() : members {
            if case .bool(let granted) = value { values[keys == .goFold ? Self.fold(key) : key] = granted }
        }
        return Set(values.filter(\.value).keys)
    }

    func subject(of event: Raw) -> (String?, String?) {
        (id(member("userId", of: event)), id(member("anonymousId", of: event)))
    }
}

/// Checks the forwarded body against every reading. `expected` holds, per forwarded event in order,
/// consentgate's subject ids and, when it decided against a record, the categories that record grants.
func checkReadings(
    _ forwarded: UnsafeRawBufferPointer, route: TrackingRoute, expected: [(userId: String?, anonymousId: String?, granted: Set<String>?)]
) {
    guard let document = Raw.parse(forwarded) else { fail("the forwarded body does not parse") }
    for reading in Reading.all {
        let events: [Raw]
        let context: Raw?
        switch route {
        case .batch:
            guard case .array(let items)? = reading.member("batch", of: document) else { fail("\(reading): no batch array") }
            events = items
            context = reading.member("context", of: document)
        case .single:
            events = [document]
            context = nil
        }
        check(events.count == expected.count, "\(reading) reads \(events.count) events, consentgate forwarded \(expected.count)")
        for (index, event) in events.enumerated() {
            let (userId, anonymousId) = reading.subject(of: event)
            check(userId == expected[index].userId && anonymousId == expected[index].anonymousId,
                  "\(reading) reads another subject in forwarded event \(index)")
            guard let granted = expected[index].granted else { continue }
            let truth = Set(granted.map { reading.keys == .goFold ? Reading.fold(Array($0.utf8)) : Array($0.utf8) })
            func preferences(_ context: Raw?) -> Raw? { reading.member("categoryPreferences", of: reading.member("consent", of: context)) }
            let own = reading.granted(preferences(reading.member("context", of: event)))
            let shared = reading.granted(preferences(context))
            let merged: Set<[UInt8]>?
            switch reading.merge {
            case .eventWins: merged = own ?? shared
            case .batchWins: merged = shared ?? own
            case .deepEventWins, .deepBatchWins:
                // Key by key, either side winning: a category one grants may be granted.
                merged = own == nil && shared == nil ? nil : (own ?? []).union(shared ?? [])
            }
            guard let merged else { fail("\(reading) finds no stamp on forwarded event \(index), whose truth consentgate had") }
            check(merged.isSubset(of: truth), "\(reading) reads forwarded event \(index) as granting what its truth denies")
        }
    }
}
