/// A segment's done-marks sidecar (`<segment>.done`): the offsets of its records that were delivered or
/// dead-lettered, appended in batches. Each entry is `u64 offset | u32 CRC-32C of those 8 bytes`, so a torn
/// or damaged entry is recognised; reading stops there. Losing a mark only means delivering that record
/// again (at least once); a damaged mark can never hide an undelivered record.
enum SpoolDoneMarks {
    static let entryBytes = 12

    static func encode(_ offsets: [UInt64]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(offsets.count * entryBytes)
        for offset in offsets {
            bytes.appendLittleEndian(offset)
            let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[($0.count - 8)...])) }
            bytes.appendLittleEndian(crc)
        }
        return bytes
    }

    /// The offsets of the whole, intact entries at the start of `bytes`, and how many bytes they span
    /// (the sidecar is cut there on open so that later entries are not appended after damage).
    static func decode(_ bytes: UnsafeRawBufferPointer) -> (offsets: [UInt64], validCount: Int) {
        var offsets: [UInt64] = []
        var position = 0
        while bytes.count - position >= entryBytes {
            var reader = SpoolByteReader(UnsafeRawBufferPointer(rebasing: bytes[position..<position + entryBytes]))
            let offset = try! reader.read(UInt64.self)
            let crc = try! reader.read(UInt32.self)
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[position..<position + 8])) == crc else { break }
            offsets.append(offset)
            position += entryBytes
        }
        return (offsets, position)
    }
}
