/// A block of addresses in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a bare address is its own
/// block (/32 or /128).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `address/prefix` or a bare address; `nil` for anything else, or a prefix longer than
    /// the address. Host bits set in `address` are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        var prefixLength = address.bitWidth
        if parts.count == 2 {
            guard let value = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigit) else { return nil }
            // An IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) is the IPv4 block it maps.
            let mapped = address.family == .v4 && parts[0].contains(":")
            let length = mapped ? value - 96 : value
            guard (0...address.bitWidth).contains(length) else { return nil }
            prefixLength = length
        }
        self.address = address.masked(to: prefixLength)
        self.prefixLength = prefixLength
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.family == address.family && candidate.masked(to: prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
