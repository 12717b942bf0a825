import Foundation

/// A JSON value with every member of an object kept, in order, duplicates included: what a receiver
/// sees before it decides which of two equal (or case-equal) keys wins.
indirect enum RawJSON: Sendable {
    case object([(key: String, value: RawJSON)])
    case array([RawJSON])
    case string(String)
    /// The number's literal text.
    case number(String)
    case bool(Bool)
    case null

    /// Parses one JSON document; `nil` when it is not valid JSON (the tests only parse what consentgate forwarded).
    static func parse(_ bytes: [UInt8]) -> RawJSON? {
        var parser = Parser(bytes: bytes)
        guard let value = parser.value() else { return nil }
        parser.skipSpace()
        return parser.index == bytes.count ? value : nil
    }

    var members: [(key: String, value: RawJSON)]? {
        if case .object(let members) = self { members } else { nil }
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func value() -> RawJSON? {
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(key: String, value: RawJSON)] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                    index += 1
                    guard let value = value() else { return nil }
                    members.append((key, value))
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "}") else { return nil }
                    index += 1
                    return .object(members)
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [RawJSON] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(items)
                }
                while true {
                    guard let item = value() else { return nil }
                    items.append(item)
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "]") else { return nil }
                    index += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return string().map(RawJSON.string)
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                for (literal, value) in [("true", RawJSON.bool(true)), ("false", .bool(false)), ("null", .null)]
                where bytes[index...].starts(with: literal.utf8) {
                    index += literal.utf8.count
                    return value
                }
                return nil
            default:
                let start = index
                while index < bytes.count, "+-.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
                return index > start ? .number(String(decoding: bytes[start..<index], as: UTF8.self)) : nil
            }
        }

        /// A string token, its escapes decoded (by Foundation, which decodes a one-string array exactly).
        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { return nil }
            index += 1
            let array = [UInt8(ascii: "[")] + bytes[start..<index] + [UInt8(ascii: "]")]
            return (try? JSONSerialization.jsonObject(with: Data(array)) as? [String])?.first
        }
    }
}

/// One plausible way a receiver reads an event: how keys match, how a numeric id becomes text, and how
/// the batch's top-level `context` merges into the event.
struct ReceiverReading: Sendable, CustomStringConvertible {
    enum Keys: CaseIterable, Sendable {
        /// Exact keys, the last of two equal ones wins (JavaScript, Python's json).
        case exactLast
        /// Exact keys, the first wins (some streaming parsers).
        case exactFirst
        /// Go's `encoding/json`: a key matches a field exactly or ignoring case (`ſ` is `s`, `K` is `k`),
        /// the last match wins; a downstream that folds case reads categories the same way.
        case goFold
    }

    enum Numbers: CaseIterable, Sendable {
        /// The literal's text.
        case text
        /// Through a 64-bit float, formatted back as an integer when it is one.
        case float
    }

    enum Merge: CaseIterable, Sendable {
        case eventWins, batchWins, deepEventWins, deepBatchWins
    }

    var keys: Keys
    var numbers: Numbers
    var merge: Merge

    var description: String { "\(keys)/\(numbers)/\(merge)" }

    static let all: [ReceiverReading] = Keys.allCases.flatMap { keys in
        Numbers.allCases.flatMap { numbers in Merge.allCases.map { ReceiverReading(keys: keys, numbers: numbers, merge: $0) } }
    }

    /// The fold this test uses for Go: independent of the gateway's own ``KeyFolding``.
    static func fold(_ key: String) -> String {
        String(key.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "\u{17F}": "s"
            case "\u{212A}": "k"
            default: Character(String(scalar).lowercased())
            }
        })
    }

    /// The member named `name` in this reading.
    func member(_ name: String, of value: RawJSON?) -> RawJSON? {
        guard let members = value?.members else { return nil }
        switch keys {
        case .exactLast: return members.last { $0.key == name }?.value
        case .exactFirst: return members.first { $0.key == name }?.value
        case .goFold: return members.last { Self.fold($0.key) == Self.fold(name) }?.value
        }
    }

    /// An id as this reading sees it; `nil` for absent, null or empty.
    func id(_ value: RawJSON?) -> String? {
        switch value {
        case .string(let text): return text.isEmpty ? nil : text
        case .number(let literal):
            switch numbers {
            case .text: return literal
            case .float:
                guard let double = Double(literal) else { return literal }
                if double == double.rounded(), abs(double) < 1e18 { return String(Int64(double)) }
                return String(double)
            }
        default: return nil
        }
    }

    /// A stamp's grants by category in this reading (Go-folded categories under `goFold`).
    func grants(_ stamp: RawJSON?) -> [String: Bool]? {
        guard let members = stamp?.members else { return nil }
        var grants: [String: Bool] = [:]
        for (key, value) in (keys == .exactFirst ? members.reversed() : members) {
            guard case .bool(let granted) = value else { continue }
            grants[keys == .goFold ? Self.fold(key) : key] = granted
        }
        return grants
    }

    /// The stamp that reaches an event in this reading.
    func stamp(of event: RawJSON, batchContext: RawJSON?) -> [String: Bool]? {
        func preferences(_ context: RawJSON?) -> [String: Bool]? {
            grants(member("categoryPreferences", of: member("consent", of: context)))
        }
        let own = preferences(member("context", of: event))
        let shared = preferences(batchContext)
        switch merge {
        case .eventWins: return own ?? shared
        case .batchWins: return shared ?? own
        case .deepEventWins:
            guard let own, let shared else { return own ?? shared }
            return shared.merging(own) { _, event in event }
        case .deepBatchWins:
            guard let own, let shared else { return own ?? shared }
            return own.merging(shared) { _, batch in batch }
        }
    }

    /// The event's subject ids in this reading.
    func subject(of event: RawJSON) -> (userId: String?, anonymousId: String?) {
        (id(member("userId", of: event)), id(member("anonymousId", of: event)))
    }
}
