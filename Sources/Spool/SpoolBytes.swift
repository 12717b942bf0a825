/// Little-endian fixed-width integers and length-prefixed fields, the only encoding the spool's files use
/// (no Codable or JSON: a record is written on the request path).
extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// A u32 length, then the bytes.
    mutating func appendField(_ bytes: some Collection<UInt8>) {
        appendLittleEndian(UInt32(truncatingIfNeeded: bytes.count))
        append(contentsOf: bytes)
    }

    /// A presence byte (0 or 1), then the field when present.
    mutating func appendOptionalField(_ string: String?) {
        if let string {
            append(1)
            appendField(string.utf8)
        } else {
            append(0)
        }
    }

    /// Stores `value` little-endian at `index` (which must already exist).
    mutating func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at index: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { raw in
            for (k, byte) in raw.enumerated() { self[index + k] = byte }
        }
    }
}

/// Reads what `[UInt8].append…` wrote; every read checks bounds and fails with `.corrupt`.
struct SpoolByteReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { position == bytes.count }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(SpoolError) -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - position >= size else { throw SpoolError(.corrupt, "a field runs past its record") }
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[position..<position + size])) }
        position += size
        return T(littleEndian: value)
    }

    mutating func readField() throws(SpoolError) -> UnsafeRawBufferPointer {
        let count = Int(try read(UInt32.self))
        guard bytes.count - position >= count else { throw SpoolError(.corrupt, "a field runs past its record") }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    mutating func readBytes() throws(SpoolError) -> [UInt8] {
        [UInt8](try readField())
    }

    mutating func readString() throws(SpoolError) -> String {
        let field = try readField()
        guard let string = String(validating: field, as: UTF8.self) else {
            throw SpoolError(.corrupt, "a text field is not UTF-8")
        }
        return string
    }

    mutating func readOptionalString() throws(SpoolError) -> String? {
        switch try read(UInt8.self) {
        case 0: return nil
        case 1: return try readString()
        default: throw SpoolError(.corrupt, "a presence byte is neither 0 nor 1")
        }
    }
}
