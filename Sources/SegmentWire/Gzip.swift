internal import CZlib

/// Compresses bytes into a gzip member (RFC 1952), e.g. to re-gzip a re-encoded batch.
///
/// libdeflate when it is loaded: the whole batch is in memory anyway, and on a 75 KB batch it is about
/// twice as fast as zlib at the same level (BENCHMARKS.md §3) while its output is no larger. zlib
/// otherwise (``DeflateLibrary``), in one `deflate(Z_FINISH)` call into a buffer of `deflateBound`'s size.
public enum Gzip {
    /// Compresses `input` into one gzip member.
    ///
    /// - Parameters:
    ///   - input: the bytes to compress.
    ///   - level: the compression level, 0 (store) to 12 (smallest); values outside are clamped.
    ///     The default 6 is the usual balance of speed and size. zlib's highest level is 9: 10–12 are 9 there.
    ///   - library: which library compresses; `.libdeflate` is zlib's work when libdeflate is not loaded.
    /// - Returns: the gzip member: header, deflate data and the CRC-32 / length trailer.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 6, using library: DeflateLibrary = .preferred) -> [UInt8] {
        let level = min(max(level, 0), 12)
        guard library == .libdeflate, let libdeflate = LibDeflate.shared else {
            return zlibCompress(input, level: min(level, 9))
        }
        // Fails only when memory is exhausted.
        guard let compressor = libdeflate.allocCompressor(level) else {
            preconditionFailure("libdeflate could not allocate a compressor")
        }
        defer { libdeflate.freeCompressor(compressor) }
        let bound = libdeflate.gzipCompressBound(compressor, input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            // The bound guarantees room: a zero result (no room) cannot happen.
            count = libdeflate.gzipCompress(compressor, input.baseAddress, input.count, UnsafeMutableRawPointer(buffer.baseAddress), bound)
            precondition(count > 0 || bound == 0, "libdeflate_gzip_compress had no room within its own bound")
        }
    }

    /// One gzip member from zlib: a 10-byte header with no name and no time (as libdeflate writes it).
    private static func zlibCompress(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        // windowBits 15 + 16: a gzip wrapper; memLevel 8 is zlib's default.
        guard deflateInit2_(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else {
            preconditionFailure("zlib could not allocate a compressor")
        }
        defer { deflateEnd(stream) }
        // deflateBound covers the gzip wrapper too, so one Z_FINISH call always finishes.
        let bound = Int(deflateBound(stream, UInt(input.count)))
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            var remaining = input.count
            var next = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var status = Z_OK
            stream.pointee.next_out = buffer.baseAddress
            stream.pointee.avail_out = UInt32(bound)
            // avail_in is 32 bits: a larger input goes in slices, the last one with Z_FINISH.
            repeat {
                let slice = min(remaining, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(mutating: next)
                stream.pointee.avail_in = UInt32(slice)
                remaining -= slice
                next = next.map { $0 + slice }
                status = deflate(stream, remaining == 0 ? Z_FINISH : Z_NO_FLUSH)
            } while remaining > 0 && status == Z_OK
            precondition(status == Z_STREAM_END, "zlib's deflate did not finish within deflateBound (\(status))")
            count = bound - Int(stream.pointee.avail_out)
        }
    }
}
