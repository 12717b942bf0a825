internal import CLibDeflate

/// Compresses bytes into a gzip member (RFC 1952), e.g. to re-gzip a re-encoded batch.
///
/// libdeflate rather than zlib: the whole batch is in memory anyway, and on a 75 KB batch it is about
/// twice as fast at the same level (BENCHMARKS.md §3) while its output is no larger.
public enum Gzip {
    /// Compresses `input` into one gzip member.
    ///
    /// - Parameters:
    ///   - input: the bytes to compress.
    ///   - level: the compression level, 0 (store) to 12 (smallest); values outside are clamped.
    ///     The default 6 is the usual balance of speed and size.
    /// - Returns: the gzip member: header, deflate data and the CRC-32 / length trailer.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 6) -> [UInt8] {
        // Fails only when memory is exhausted.
        guard let compressor = libdeflate_alloc_compressor(min(max(level, 0), 12)) else {
            preconditionFailure("libdeflate could not allocate a compressor")
        }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_gzip_compress_bound(compressor, input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            // The bound guarantees room: a zero result (no room) cannot happen.
            count = libdeflate_gzip_compress(compressor, input.baseAddress, input.count, buffer.baseAddress, bound)
            precondition(count > 0 || bound == 0, "libdeflate_gzip_compress had no room within its own bound")
        }
    }
}
