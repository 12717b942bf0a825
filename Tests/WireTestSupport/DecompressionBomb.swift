import CZlib

/// Request bodies built to exhaust a decompressor, shared by the inflater's tests and the gateway's
/// hostile-input tests.
public enum DecompressionBomb {
    /// A decompression bomb: `megabytes` MB of zeros as a gzip member or a zlib stream, about 1 KB per MB.
    ///
    /// Built without ever holding the decompressed data: zlib's deflate compresses one 1 MB chunk of
    /// zeros ending in a full flush (byte-aligned, no back references across the flush), so every further
    /// chunk compresses to the same bytes; the check values come from `crc32_combine` / `adler32_combine`.
    public static func zeros(megabytes: Int, gzip: Bool = true) -> [UInt8] {
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        precondition(
            deflateInit2_(stream, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        )
        defer { deflateEnd(stream) }
        var block = [UInt8](repeating: 0, count: 1 << 16)
        let (checkOfChunk, blockSize): (UInt, Int) = chunk.withUnsafeBufferPointer { input in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.pointee.avail_in = UInt32(input.count)
            let size = block.withUnsafeMutableBufferPointer { output in
                stream.pointee.next_out = output.baseAddress
                stream.pointee.avail_out = UInt32(output.count)
                precondition(deflate(stream, Z_FULL_FLUSH) == Z_OK && stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0)
                return output.count - Int(stream.pointee.avail_out)
            }
            let check = gzip ? crc32(0, input.baseAddress, UInt32(input.count)) : adler32(1, input.baseAddress, UInt32(input.count))
            return (check, size)
        }
        var check: UInt = gzip ? 0 : 1
        for _ in 0..<megabytes {
            check = gzip ? crc32_combine(check, checkOfChunk, 1 << 20) : adler32_combine(check, checkOfChunk, 1 << 20)
        }
        var bomb: [UInt8] = gzip ? [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0x02, 0xFF] : [0x78, 0xDA]
        bomb.reserveCapacity(bomb.count + blockSize * megabytes + 10)
        for _ in 0..<megabytes { bomb.append(contentsOf: block[..<blockSize]) }
        bomb += [0x03, 0x00]  // a final, empty fixed-Huffman block
        let size = UInt32(truncatingIfNeeded: megabytes << 20)
        if gzip {
            for shift in stride(from: 0, to: 32, by: 8) { bomb.append(UInt8(truncatingIfNeeded: check >> shift)) }
            for shift in stride(from: 0, to: 32, by: 8) { bomb.append(UInt8(truncatingIfNeeded: size >> shift)) }
        } else {
            for shift in stride(from: 24, through: 0, by: -8) { bomb.append(UInt8(truncatingIfNeeded: check >> shift)) }
        }
        return bomb
    }
}
