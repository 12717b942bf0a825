/// A record on disk: `u32 length | u32 CRC-32C | payload`, little-endian. The CRC covers the four length
/// bytes and the payload, so a damaged length is caught too, not only a damaged body.
///
/// In a segment of format version 2 the stored CRC is XORed with the segment's ``key(segment:)``: segment
/// files are recycled (a finished one is renamed to become the next), and the bytes of its earlier life that
/// still follow the new records must never pass for records of the new segment. Version 1 (no key) is still
/// read; dead letters use no key.
///
/// A segment file is an 8-byte magic (`SpoolFrame.segmentMagic`), then frames back to back. Scanning stops
/// at the first frame that is cut short or fails its CRC: a crash can only damage the commit that was being
/// written (every earlier one was `fdatasync`'d before its appends returned), and within that commit the
/// page cache may have written any subset of its pages, so nothing after the first bad frame can be trusted
/// to be framed; none of it was acknowledged. (Bit rot in an older, acknowledged record is cut the same way:
/// the segment's later records are lost with it, and `SpoolStatistics.cutBytes` says how much.)
enum SpoolFrame {
    static let headerBytes = 8
    /// "CGSPOOL" and the file format version: 2, frames keyed by their segment.
    static let segmentMagic: [UInt8] = Array("CGSPOOL".utf8) + [2]
    /// Version 1: frames without a key (segments written before recycling).
    static let segmentMagicVersion1: [UInt8] = Array("CGSPOOL".utf8) + [1]

    /// What a version-2 segment's frames XOR their CRC with: the low 32 bits of its number, which differ
    /// between a recycled file's lives (numbers only grow).
    static func key(segment: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: segment)
    }

    /// Keys the frame whose header starts at `offset` of `bytes` (sealed with no key) for its segment.
    static func applyKey(_ key: UInt32, toFrameAt offset: Int, in bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { raw in
            let stored = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            raw.storeBytes(of: (UInt32(littleEndian: stored) ^ key).littleEndian, toByteOffset: offset + 4, as: UInt32.self)
        }
    }
    /// No payload is larger (the ingress caps bodies far lower); a bigger length is damage.
    static let maxPayloadBytes = 1 << 30

    /// The whole frame of a batch, in one allocation.
    static func encode(_ batch: SpooledBatch) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(headerBytes + batch.encodedCount)
        bytes.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0])
        batch.encode(into: &bytes)
        seal(&bytes)
        return bytes
    }

    /// The whole frame of an already encoded payload.
    static func encode(payload: [UInt8]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerBytes)
        bytes.append(contentsOf: payload)
        seal(&bytes)
        return bytes
    }

    /// Fills in the header of `bytes` (8 header bytes, then the payload).
    private static func seal(_ bytes: inout [UInt8]) {
        bytes.storeLittleEndian(UInt32(bytes.count - headerBytes), at: 0)
        let crc = bytes.withUnsafeBytes { raw in
            let length = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<4]))
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[headerBytes...]), continuing: length)
        }
        bytes.storeLittleEndian(crc, at: 4)
    }

    /// One whole frame found by `scan`, at `offset` of the scanned buffer.
    struct Found: Hashable {
        var offset: Int
        var payloadCount: Int
        var frameCount: Int { SpoolFrame.headerBytes + payloadCount }
    }

    /// Why `scan` stopped.
    enum Stop: Hashable {
        /// Every byte was a whole frame.
        case end
        /// The frame at `offset` needs `needed` bytes from there and the buffer has fewer: read more, or,
        /// at the end of the file, it is a torn tail.
        case needMore(offset: Int, needed: Int)
        /// The frame at `offset` has a length of zero or past the limit, or a CRC that does not match.
        case corrupt(offset: Int)
    }

    /// The whole frames at the start of `buffer`, and where and why the scan stopped. Pure: the caller reads
    /// the file and decides what a stop means. `key`: the segment's (``key(segment:)``), 0 for no key.
    static func scan(_ buffer: UnsafeRawBufferPointer, key: UInt32 = 0) -> (frames: [Found], stop: Stop) {
        var frames: [Found] = []
        var offset = 0
        while true {
            let remaining = buffer.count - offset
            if remaining == 0 { return (frames, .end) }
            if remaining < headerBytes { return (frames, .needMore(offset: offset, needed: headerBytes)) }
            var reader = SpoolByteReader(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + headerBytes]))
            let length = Int(try! reader.read(UInt32.self))
            let crc = try! reader.read(UInt32.self)
            guard length > 0, length <= maxPayloadBytes else { return (frames, .corrupt(offset: offset)) }
            guard remaining >= headerBytes + length else {
                return (frames, .needMore(offset: offset, needed: headerBytes + length))
            }
            let lengthCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + 4]))
            let payload = UnsafeRawBufferPointer(rebasing: buffer[offset + headerBytes..<offset + headerBytes + length])
            guard CRC32C.checksum(payload, continuing: lengthCRC) == crc ^ key else {
                return (frames, .corrupt(offset: offset))
            }
            frames.append(Found(offset: offset, payloadCount: length))
            offset += headerBytes + length
        }
    }

    /// The payload of the single whole frame `bytes` (as read back by `pread`), or `.corrupt`.
    static func payload(ofFrame bytes: UnsafeRawBufferPointer, key: UInt32 = 0) throws(SpoolError) -> UnsafeRawBufferPointer {
        let (frames, stop) = scan(bytes, key: key)
        guard frames.count == 1, stop == .end else { throw SpoolError(.corrupt, "a record read back fails its CRC") }
        return UnsafeRawBufferPointer(rebasing: bytes[headerBytes...])
    }
}
