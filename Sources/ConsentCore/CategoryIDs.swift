public import SegmentWire

/// Category ids interned as bit positions, so that a set of granted categories is one `UInt64`.
///
/// Comparing a stamp with the truth is then integer arithmetic with no string compared and no
/// reference counted, the enforcer's fast path. At most 64 categories get a bit (real consent
/// platforms use a handful); a set that needs a category beyond them has no mask and is compared
/// by name instead. Ids are case-sensitive and compared as Swift strings, like everywhere else.
public struct CategoryIDs: Sendable {
    /// The most categories that get a bit.
    public static let capacity = 64

    private var bits: [String: UInt8] = [:]

    public init() {}

    /// The bit of a category, if it has one.
    @inline(__always)
    public func bit(of category: String) -> UInt8? {
        bits[category]
    }

    /// The bit of a category, given one if there is room.
    public mutating func intern(_ category: String) -> UInt8? {
        if let bit = bits[category] { return bit }
        guard bits.count < Self.capacity else { return nil }
        let bit = UInt8(bits.count)
        bits[category] = bit
        return bit
    }

    /// The granted categories of a truth's preference set as a mask, interning their ids; `nil` when
    /// one of them gets no bit. A category listed more than once counts with its last value.
    public mutating func internGrantMask(_ preferences: some Sequence<CategoryPreference>) -> UInt64? {
        for preference in preferences where preference.granted {
            guard intern(preference.category) != nil else { return nil }
        }
        return grantMask(preferences)
    }

    /// The granted categories of a stamp as a mask, without interning (a client must not use up the
    /// bits); `nil` when a granted category has no bit, which no masked truth grants.
    /// A category listed more than once counts with its last value.
    public func grantMask(_ preferences: some Sequence<CategoryPreference>) -> UInt64? {
        Self.grantMask(preferences.lazy.map { (bits[$0.category], $0.granted) })
    }

    /// ``grantMask(_:)`` for entries whose bits the caller already looked up (`nil`: no bit).
    @inlinable
    public static func grantMask(_ entries: some Sequence<(bit: UInt8?, granted: Bool)>) -> UInt64? {
        var mask: UInt64 = 0
        for entry in entries {
            if let bit = entry.bit {
                if entry.granted { mask |= 1 << bit } else { mask &= ~(1 << bit) }
            } else if entry.granted {
                return nil
            }
        }
        return mask
    }
}
