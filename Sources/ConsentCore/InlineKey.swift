/// A cache key's bytes held inside its slot, when they are at most ``capacity`` bytes (a UUID is 36).
///
/// A probe that finds a matching hash compares the key it is looking for with these bytes, in the slot
/// it has just read: no heap object to fetch, no reference count to touch (a `String` key kept in the
/// slot cost a cache miss and a retain and release per lookup). A longer key is marked ``isLong`` and
/// kept aside by the cache.
struct InlineKey: Sendable {
    /// The longest key held inline.
    static var capacity: Int { 39 }

    private static var freeMarker: UInt8 { 0xFF }
    private static var longMarker: UInt8 { 0xFE }

    /// Byte 0 is the length (or a marker); bytes 1 ... 39 hold the key.
    private var storage: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)

    private init(marker: UInt8) {
        withUnsafeMutableBytes(of: &storage) { $0[0] = marker }
    }

    /// The key of a slot on the free list.
    static var free: InlineKey { InlineKey(marker: freeMarker) }

    /// The mark of a key longer than ``capacity``, kept outside the slot.
    static var long: InlineKey { InlineKey(marker: longMarker) }

    /// The key's bytes, inline; `nil` when there are more than ``capacity``.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= Self.capacity else { return nil }
        withUnsafeMutableBytes(of: &storage) { raw in
            raw[0] = UInt8(bytes.count)
            if let base = bytes.baseAddress, bytes.count > 0 {
                raw.baseAddress!.advanced(by: 1).copyMemory(from: base, byteCount: bytes.count)
            }
        }
    }

    private var marker: UInt8 { withUnsafeBytes(of: storage) { $0[0] } }

    /// The slot is on the free list.
    var isFree: Bool { marker == Self.freeMarker }

    /// The key is longer than ``capacity`` and kept outside the slot.
    var isLong: Bool { marker == Self.longMarker }

    /// Whether the inline key is exactly `bytes` (false for a free slot or a long key).
    @inline(__always)
    func equals(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // A marker is not a length: without this test a 254- or 255-byte key would be compared past
        // the 39 bytes held.
        guard Int(marker) <= Self.capacity else { return false }
        return withBytes { ConsentCacheHash.equal($0, bytes) }
    }

    /// Calls `body` with the inline key's bytes; only for a key that is neither free nor long.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in body(UnsafeRawBufferPointer(rebasing: raw[1 ..< 1 + Int(raw[0])])) }
    }
}
