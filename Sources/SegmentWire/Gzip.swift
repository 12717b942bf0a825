internal import CZlib

/// Compresses bytes into a gzip member (RFC 1952) with zlib, e.g. to re-gzip a re-encoded batch.
public enum Gzip {
    /// Compresses `input` into one gzip member.
    ///
    /// - Parameters:
    ///   - input: the bytes to compress.
    ///   - level: the zlib compression level, 0 (store) to 9 (smallest); values outside are clamped.
    ///     The default 6 is zlib's own default.
    /// - Returns: the gzip member: header, deflate data and the CRC-32 / length trailer.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 6) -> [UInt8] {
        // zlib keeps a pointer back to the stream in its state: the stream must not move.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }

        let status = deflateInit2_(
            stream, min(max(level, 0), 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
            zlibVersion(), Int32(MemoryLayout<z_stream>.size)
        )
        // Fails only for invalid parameters (ruled out above) or when memory is exhausted.
        precondition(status == Z_OK, "deflateInit2 failed (zlib \(status))")
        defer { deflateEnd(stream) }

        // deflateBound is exact enough that a single pass usually suffices; the loop covers the rest.
        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, UInt(input.count))))
        var produced = 0
        var consumed = 0
        while true {
            if produced == output.count {
                output.append(contentsOf: repeatElement(0, count: max(output.count, 64)))
            }
            if stream.pointee.avail_in == 0 && consumed < input.count {
                let chunk = min(input.count - consumed, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: input.baseAddress!.advanced(by: consumed).assumingMemoryBound(to: UInt8.self)
                )
                stream.pointee.avail_in = UInt32(chunk)
                consumed += chunk
            }
            let flush = consumed == input.count ? Z_FINISH : Z_NO_FLUSH
            let room = min(output.count - produced, Int(UInt32.max))
            let result: Int32 = output.withUnsafeMutableBufferPointer { buffer in
                stream.pointee.next_out = buffer.baseAddress!.advanced(by: produced)
                stream.pointee.avail_out = UInt32(room)
                return deflate(stream, flush)
            }
            produced += room - Int(stream.pointee.avail_out)
            if result == Z_STREAM_END { break }
            precondition(result == Z_OK || result == Z_BUF_ERROR, "deflate failed (zlib \(result))")
        }
        output.removeLast(output.count - produced)
        return output
    }
}
