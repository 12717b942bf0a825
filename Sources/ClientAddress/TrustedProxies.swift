/// The proxies whose forwarding headers are believed (`ingress.trusted_proxies`), and the client
/// address they lead to.
///
/// The client is the connection's peer, unless the peer is trusted: then it is the rightmost address
/// of `X-Forwarded-For` (or, without one, of `Forwarded: for=`) that is not itself trusted. Each trusted
/// hop appended the address it saw, so entries are believed from the right only as far as the chain
/// stays trusted; everything left of the first untrusted one could have been written by the client.
/// A header that cannot be read there is ignored, never an error: the client is then the last hop
/// known, a trusted one.
public struct TrustedProxies: Sendable, Hashable {
    public var networks: [IPNetwork]
    /// At most this many entries are read, from the right: a longer chain ends at a trusted hop.
    public static let maxEntries = 32

    public init(_ networks: [IPNetwork] = []) {
        self.networks = networks
    }

    public var isEmpty: Bool { networks.isEmpty }

    public func trusts(_ address: IPAddress) -> Bool {
        networks.contains { $0.contains(address) }
    }

    /// The client's address.
    /// - Parameters:
    ///   - peer: the connection's remote address.
    ///   - forwardedFor: every `X-Forwarded-For` field line, in order.
    ///   - forwarded: every `Forwarded` field line (RFC 7239), in order; read only without `X-Forwarded-For`.
    public func client(peer: IPAddress, forwardedFor: [String], forwarded: [String]) -> IPAddress {
        guard trusts(peer) else { return peer }
        let entries: [Substring]
        if !forwardedFor.isEmpty {
            entries = forwardedFor.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
        } else if !forwarded.isEmpty {
            entries = forwarded.flatMap { Self.forValues($0) }
        } else {
            return peer
        }
        var client = peer
        for entry in entries.reversed().prefix(Self.maxEntries) {
            guard let address = Self.address(in: entry) else { return client }
            guard trusts(address) else { return address }
            client = address
        }
        return client
    }

    /// An address in one forwarding entry: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
    /// `[2001:db8::1]` or `[2001:db8::1]:443`, with surrounding white space and quotes; `nil` for
    /// anything else (`unknown`, an obfuscated `_hidden` name, garbage).
    static func address(in entry: Substring) -> IPAddress? {
        var text = entry.trimmingSpaces
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isWholeNumber) && rest.count > 1) else { return nil }
            return IPAddress(text[text.index(after: text.startIndex)..<close])
        }
        let colons = text.count { $0 == ":" }
        if colons == 1, let colon = text.firstIndex(of: ":") {
            let port = text[text.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isWholeNumber) else { return nil }
            return IPAddress(text[..<colon])
        }
        return IPAddress(text)
    }

    /// The `for=` values of a `Forwarded` field line, one per element, in order. An element without
    /// one gives an empty entry, which stops the walk as unreadable.
    static func forValues(_ line: String) -> [Substring] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { element in
            for pair in element.split(separator: ";") {
                let trimmed = pair.trimmingSpaces
                guard trimmed.count > 4, trimmed.prefix(4).lowercased() == "for=" else { continue }
                return trimmed.dropFirst(4)
            }
            return ""
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
