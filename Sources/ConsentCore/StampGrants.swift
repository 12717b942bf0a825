public import SegmentWire

/// The grants of a request's stamps as masks over the cache's category bits (``CategoryIDs``), for
/// ``ConsentResolver/cachedTruths(_:in:)``.
///
/// The categories a request names are few, so each is looked up once (one lock for all); stamps with
/// the same bytes share their entries (the scanner reads each once), so each distinct stamp is
/// reduced once.
public struct StampGrants {
    private let request: ScannedRequest
    /// The bit of each distinct category of the request.
    private let bits: [UInt8?]
    /// For each entry of ``ScannedRequest/preferences``, the index of its category in `bits`.
    private let categoryOfEntry: [Int]
    /// Masks already computed, by the stamp's entries.
    private var known: [(entries: Range<Int>, grants: UInt64?)] = []

    /// `nil` when the request names more categories than can have bits: its stamps compare by name.
    public init?(_ request: ScannedRequest, resolver: ConsentResolver) {
        // Reserved once: growing by appends would allocate again at 1, 2, 4, ... entries.
        var names: [String] = []
        names.reserveCapacity(min(request.preferences.count, 16))
        var categoryOfEntry: [Int] = []
        categoryOfEntry.reserveCapacity(request.preferences.count)
        for entry in request.preferences {
            if let known = names.firstIndex(of: entry.category) {
                categoryOfEntry.append(known)
            } else {
                guard names.count < CategoryIDs.capacity else { return nil }
                categoryOfEntry.append(names.count)
                names.append(entry.category)
            }
        }
        self.request = request
        self.bits = names.isEmpty ? [] : resolver.categoryBits(names)
        self.categoryOfEntry = categoryOfEntry
        known.reserveCapacity(Self.knownLimit)
    }

    /// The most distinct stamps whose masks are kept.
    private static var knownLimit: Int { 16 }

    /// What a stamp grants, as a mask (see ``CategoryIDs/grantMask(_:)``); `nil` when it grants a
    /// category without a bit, which no masked truth grants.
    public mutating func grants(of stamp: ConsentStamp) -> UInt64? {
        if let found = known.first(where: { $0.entries == stamp.entries }) { return found.grants }
        let (bits, categoryOfEntry, preferences) = (self.bits, self.categoryOfEntry, request.preferences)
        let grants = CategoryIDs.grantMask(stamp.entries.lazy.map { (bits[categoryOfEntry[$0]], preferences[$0].granted) })
        if known.count < Self.knownLimit { known.append((stamp.entries, grants)) }
        return grants
    }
}
