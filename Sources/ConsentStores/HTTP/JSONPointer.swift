/// An RFC 6901 JSON pointer (`store.http.preferences_pointer`): where in a consent service's answer
/// the preferences object is, e.g. `/data/preferences`, or `""` for the whole document.
///
/// `~1` stands for `/` and `~0` for `~` inside a token; a token names an object member, or an array
/// element by its decimal index (no leading zeros; `-` names nothing when reading).
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// Why a pointer could not be read.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The reference tokens, unescaped.
    public let tokens: [String]
    /// The pointer as written.
    public let description: String

    /// The whole document.
    public static let root = JSONPointer(tokens: [], description: "")

    private init(tokens: [String], description: String) {
        self.tokens = tokens
        self.description = description
    }

    public init(_ text: String) throws(ParseError) {
        guard !text.isEmpty else {
            self = .root
            return
        }
        guard text.hasPrefix("/") else {
            throw ParseError(reason: "a JSON pointer is empty or starts with '/', got '\(text)'")
        }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var iterator = raw.makeIterator()
            while let character = iterator.next() {
                guard character == "~" else {
                    token.append(character)
                    continue
                }
                switch iterator.next() {
                case "0": token.append("~")
                case "1": token.append("/")
                default: throw ParseError(reason: "'~' must be followed by 0 or 1 in the JSON pointer '\(text)'")
                }
            }
            tokens.append(token)
        }
        self.init(tokens: tokens, description: text)
    }

    /// The value the pointer names in `document`, or `nil` when there is none.
    public func resolve(in document: JSONValue) -> JSONValue? {
        var current = document
        for token in tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let elements):
                guard let index = Self.arrayIndex(token), index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }

    private static func arrayIndex(_ token: String) -> Int? {
        guard let first = token.utf8.first, token.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        if first == UInt8(ascii: "0"), token.utf8.count > 1 { return nil }
        return Int(token)
    }
}
