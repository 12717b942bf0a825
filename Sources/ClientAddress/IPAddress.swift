#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, as 128 bits (IPv4 in the low 32), parsed and printed by the C library.
///
/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack socket reports an IPv4 peer) is
/// the IPv4 address: trusted networks, truncation and the text sent on are the same for both forms.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable {
        case v4, v6
    }

    public let family: Family
    /// The address's bits, most significant first; an IPv4 address is in the low 32 bits of `low`.
    public let high: UInt64
    public let low: UInt64

    /// The address width in bits: 32 or 128.
    public var bitWidth: Int { family == .v4 ? 32 : 128 }

    public init(ipv4 bits: UInt32) {
        family = .v4
        high = 0
        low = UInt64(bits)
    }

    public init(ipv6 high: UInt64, _ low: UInt64) {
        if high == 0 && low >> 32 == 0xFFFF {
            self.init(ipv4: UInt32(truncatingIfNeeded: low))
        } else {
            self.init(rawIPv6: high, low)
        }
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            self.init(ipv4: bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            let high = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes.dropFirst(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self.init(ipv6: high, low)
        default:
            return nil
        }
    }

    /// Parses a literal address: dotted IPv4 or RFC 4291 IPv6 text, nothing around it (no brackets,
    /// port or zone).
    public init?(_ text: Substring) {
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var buffer = (UInt64(0), UInt64(0))
        let parsed = String(text).withCString { cString in
            withUnsafeMutableBytes(of: &buffer) { raw -> Int32? in
                if text.utf8.contains(UInt8(ascii: ":")) {
                    return inet_pton(AF_INET6, cString, raw.baseAddress) == 1 ? AF_INET6 : nil
                }
                return inet_pton(AF_INET, cString, raw.baseAddress) == 1 ? AF_INET : nil
            }
        }
        guard let parsed else { return nil }
        let bytes = withUnsafeBytes(of: buffer) { Array($0.prefix(parsed == AF_INET ? 4 : 16)) }
        self.init(bytes: bytes)
    }

    public init?(_ text: String) {
        self.init(Substring(text))
    }

    /// The address with every bit past the first `prefixLength` cleared.
    public func masked(to prefixLength: Int) -> IPAddress {
        let keep = max(0, min(prefixLength, bitWidth))
        switch family {
        case .v4:
            let mask: UInt32 = keep == 0 ? 0 : ~UInt32(0) << UInt32(32 - keep)
            return IPAddress(ipv4: UInt32(truncatingIfNeeded: low) & mask)
        case .v6:
            let highMask: UInt64 = keep >= 64 ? ~0 : keep == 0 ? 0 : ~UInt64(0) << UInt64(64 - keep)
            let lowMask: UInt64 = keep <= 64 ? 0 : keep == 128 ? ~0 : ~UInt64(0) << UInt64(128 - keep)
            return IPAddress(rawIPv6: high & highMask, low & lowMask)
        }
    }

    /// The address without what identifies a host: IPv4 to its /24, IPv6 to its /48.
    public var truncated: IPAddress { masked(to: family == .v4 ? 24 : 48) }

    /// The conventional text: dotted quad, or RFC 5952 IPv6.
    public var description: String {
        var bytes = [UInt8](repeating: 0, count: 16)
        let family: Int32
        switch self.family {
        case .v4:
            let bits = UInt32(truncatingIfNeeded: low)
            for index in 0..<4 { bytes[index] = UInt8(truncatingIfNeeded: bits >> UInt32(24 - 8 * index)) }
            family = AF_INET
        case .v6:
            for index in 0..<8 {
                bytes[index] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * index))
                bytes[8 + index] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * index))
            }
            family = AF_INET6
        }
        var text = [CChar](repeating: 0, count: 64)
        let ok = bytes.withUnsafeBytes { source in
            text.withUnsafeMutableBufferPointer { inet_ntop(family, source.baseAddress, $0.baseAddress, 64) != nil }
        }
        guard ok else { return "" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An IPv6 value as is (a masked IPv4-mapped prefix must not turn into an IPv4 address).
    private init(rawIPv6 high: UInt64, _ low: UInt64) {
        family = .v6
        self.high = high
        self.low = low
    }
}
