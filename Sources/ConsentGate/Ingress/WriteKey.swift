import FoundationEssentials
import Synchronization

/// Where a request's Segment write key comes from: `Authorization: Basic base64(key:)` or the body's `writeKey`.
enum WriteKey {
    /// The result of reading an `Authorization` header.
    enum Header: Equatable {
        /// No `Authorization` header.
        case absent
        /// A Basic credential; the write key is the user name (a missing colon is tolerated).
        case basic(String)
        /// Another scheme (OAuth `Bearer`): the key must come from the body.
        case otherScheme
        /// `Basic` with a value that is not base64 of UTF-8 text.
        case malformed
    }

    static func parse(authorization: String?) -> Header {
        guard let authorization else { return .absent }
        let trimmed = authorization.trimmingSpaces
        guard trimmed.count >= 6, trimmed.prefix(6).lowercased() == "basic " else { return .otherScheme }
        let encoded = String(trimmed.dropFirst(6)).trimmingSpaces
        guard !encoded.isEmpty, let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else {
            return .malformed
        }
        if let colon = text.firstIndex(of: ":") { return .basic(String(text[..<colon])) }
        return .basic(text)
    }

    /// Remembers the last `Authorization` value parsed: an SDK sends the same one with every batch,
    /// and parsing it (base64 and four `String`s) cost more than comparing it with the last one.
    final class Memo: Sendable {
        private let last = Mutex<(authorization: String, header: Header)?>(nil)

        func parse(authorization: String?) -> Header {
            guard let authorization else { return .absent }
            if let header = last.withLock({ $0?.authorization == authorization ? $0?.header : nil }) { return header }
            let header = WriteKey.parse(authorization: authorization)
            last.withLock { $0 = (authorization, header) }
            return header
        }
    }
}
