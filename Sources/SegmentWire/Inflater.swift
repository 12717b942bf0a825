internal import CZlib

/// A request body's `Content-Encoding`, as far as consentgate accepts it.
public enum ContentCoding: Sendable, Hashable {
    /// No encoding (an absent or empty header, or `identity`).
    case identity
    /// `gzip` (or its alias `x-gzip`): a gzip member (RFC 1952).
    case gzip
    /// `deflate`: a zlib stream (RFC 1950); a raw deflate stream (RFC 1951) is accepted too,
    /// because some clients send that under this name.
    case deflate

    /// Parses a `Content-Encoding` header value: case-insensitive, surrounding spaces and tabs ignored.
    ///
    /// Returns `nil` for every other coding, including `br`, `zstd` and lists of codings such as
    /// `gzip, gzip`; the caller answers 415 (``WireError/Code/unsupportedEncoding``).
    public init?(headerValue: some StringProtocol) {
        var bytes = Substring(headerValue).utf8[...]
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            bytes = bytes.dropFirst()
        }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            bytes = bytes.dropLast()
        }
        if bytes.isEmpty || ContentCoding.equalsIgnoringASCIICase(bytes, "identity") {
            self = .identity
        } else if ContentCoding.equalsIgnoringASCIICase(bytes, "gzip")
            || ContentCoding.equalsIgnoringASCIICase(bytes, "x-gzip")
        {
            self = .gzip
        } else if ContentCoding.equalsIgnoringASCIICase(bytes, "deflate") {
            self = .deflate
        } else {
            return nil
        }
    }

    /// The coding's header token (`"identity"`, `"gzip"`, `"deflate"`), e.g. for a metric label.
    public var name: String {
        switch self {
        case .identity: "identity"
        case .gzip: "gzip"
        case .deflate: "deflate"
        }
    }

    private static func equalsIgnoringASCIICase(_ bytes: Substring.UTF8View.SubSequence, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            zip(bytes, expected).allSatisfy { byte, want in
                let lowered = (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
                return lowered == want
            }
        }
    }
}

/// Decompresses request bodies with a hard cap on the decompressed size, with libdeflate or zlib
/// (``DeflateLibrary``): the same bytes out, the same errors and the same limits either way.
///
/// The cap is enforced inside zlib's inflate loop: the output buffer grows gradually and never beyond
/// `limit + 1` bytes, so a decompression bomb (say 1 GB of zeros in 1 MB of gzip) costs at most
/// about `limit` bytes of memory before it is refused. libdeflate inflates in one call into a buffer of
/// the size the gzip trailer states, and only when that size is within the limit.
public enum Inflater {
    /// Decompresses `input` and returns the decompressed bytes.
    ///
    /// - Parameters:
    ///   - input: the body as received.
    ///   - coding: the body's `Content-Encoding`. `.identity` returns the bytes unchanged (still
    ///     subject to `limit`).
    ///   - limit: the most decompressed bytes accepted.
    ///   - library: which library inflates; `.libdeflate` is zlib's work when libdeflate is not loaded.
    /// - Throws: ``WireError/Code/payloadTooLarge`` as soon as the output would exceed `limit`;
    ///   ``WireError/Code/invalidCompression`` for corrupt data, a stream that ends before its end marker
    ///   (truncated), or any byte after the end of the stream, white space included (this includes a
    ///   second gzip member): a receiver could read such bytes differently, so they are refused.
    public static func inflate(
        _ input: UnsafeRawBufferPointer, coding: ContentCoding, limit: Int, using library: DeflateLibrary = .preferred
    ) throws(WireError) -> [UInt8] {
        let limit = max(limit, 0)
        switch coding {
        case .identity:
            guard input.count <= limit else {
                throw WireError(.payloadTooLarge, "the body is larger than \(limit) bytes")
            }
            return Array(input)
        case .gzip:
            // A well-formed body decompresses in one libdeflate call into a buffer of exactly its size;
            // anything else takes zlib's streaming path, which names the problem precisely.
            if library == .libdeflate, let libdeflate = LibDeflate.shared, let output = wholeGzip(input, limit: limit, libdeflate) {
                return output
            }
            return try run(input, windowBits: 15 + 16, limit: limit)
        case .deflate:
            guard hasZlibHeader(input) else {
                return try run(input, windowBits: -15, limit: limit)
            }
            do {
                return try run(input, windowBits: 15, limit: limit)
            } catch let error where error.code == .invalidCompression {
                // Two bytes that happen to look like a zlib header may still start a raw deflate stream.
                if let raw = try? run(input, windowBits: -15, limit: limit) { return raw }
                throw error
            }
        }
    }

    /// Decompresses a single gzip member whose trailer's size (ISIZE, RFC 1952 §2.3.1) is at most `limit`,
    /// followed by nothing; `nil` for every other input (and when libdeflate is not loaded), for the
    /// caller's streaming path.
    ///
    /// ISIZE is only a hint for the buffer: libdeflate still checks it and the CRC-32, so a body that
    /// lies about its size fails here and is judged by the streaming path, whose cap holds regardless.
    /// A header with a header CRC (FHCRC) or reserved flag bits is declined too: zlib checks the CRC16 and
    /// refuses reserved flags, while libdeflate 1.14 skips the CRC16, and the two must not disagree.
    static func wholeGzip(_ input: UnsafeRawBufferPointer, limit: Int, _ libdeflate: LibDeflate? = LibDeflate.shared) -> [UInt8]? {
        guard let libdeflate, input.count >= 18, let base = input.baseAddress else { return nil }
        guard input[3] & 0xE2 == 0 else { return nil }  // FLG: FHCRC (0x02) and the reserved bits 5-7
        let trailer = input.count - 4
        let size = Int(input[trailer]) | Int(input[trailer + 1]) << 8 | Int(input[trailer + 2]) << 16 | Int(input[trailer + 3]) << 24
        guard size <= limit, let decompressor = libdeflate.allocDecompressor() else { return nil }
        defer { libdeflate.freeDecompressor(decompressor) }
        var succeeded = false
        let output = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var consumed = 0
            var produced = 0
            let result = libdeflate.gzipDecompressEx(
                decompressor, base, input.count, UnsafeMutableRawPointer(buffer.baseAddress), size, &consumed, &produced)
            guard result == LibDeflate.success, produced == size, consumed == input.count else {
                count = 0
                return
            }
            count = produced
            succeeded = true
        }
        return succeeded ? output : nil
    }

    /// Whether the first two bytes are a valid zlib header (RFC 1950 §2.2): method 8 (deflate),
    /// a window of at most 32 KB, and a check value that makes the pair a multiple of 31.
    static func hasZlibHeader(_ input: UnsafeRawBufferPointer) -> Bool {
        guard input.count >= 2 else { return false }
        let cmf = input[0]
        let flg = input[1]
        return cmf & 0x0F == 8 && cmf >> 4 <= 7 && (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0
    }

    /// One inflate pass with the given zlib window bits (15 + 16 gzip, 15 zlib, -15 raw deflate).
    private static func run(_ input: UnsafeRawBufferPointer, windowBits: Int32, limit: Int) throws(WireError) -> [UInt8] {
        // zlib keeps a pointer back to the stream in its state and checks it on every call, so the
        // stream must not move: keep it on the heap rather than in a Swift variable.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }

        let status = inflateInit2_(stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw WireError(.payloadTooLarge, "the decompressor could not be set up (zlib \(status))")
        }
        defer { inflateEnd(stream) }

        // The output never needs more than limit + 1 bytes: one byte past the limit proves the excess.
        let cap = limit == Int.max ? Int.max : limit + 1
        let (fourTimes, overflow) = input.count.multipliedReportingOverflow(by: 4)
        var capacity = min(max(overflow ? Int.max : fourTimes, 1024), cap)
        var output = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { output.deallocate() }
        var produced = 0
        var consumed = 0

        while true {
            if produced == capacity {
                // Only reachable while produced <= limit, hence capacity < cap.
                let grown = capacity > cap / 2 ? cap : capacity * 2
                let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
                larger.update(from: output, count: produced)
                output.deallocate()
                output = larger
                capacity = grown
            }
            if stream.pointee.avail_in == 0 && consumed < input.count {
                let chunk = min(input.count - consumed, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: input.baseAddress!.advanced(by: consumed).assumingMemoryBound(to: UInt8.self)
                )
                stream.pointee.avail_in = UInt32(chunk)
                consumed += chunk
            }
            let room = min(capacity - produced, Int(UInt32.max))
            stream.pointee.next_out = output.advanced(by: produced)
            stream.pointee.avail_out = UInt32(room)
            let result = CZlib.inflate(stream, Z_NO_FLUSH)
            let left = Int(stream.pointee.avail_out)
            produced += room - left
            if produced > limit {
                throw WireError(.payloadTooLarge, "the decompressed body is larger than \(limit) bytes")
            }
            let inputExhausted = stream.pointee.avail_in == 0 && consumed == input.count
            switch result {
            case Z_STREAM_END:
                guard consumed - Int(stream.pointee.avail_in) == input.count else {
                    throw WireError(.invalidCompression, "the body has bytes after the end of the compressed stream")
                }
                return Array(UnsafeBufferPointer(start: output, count: produced))
            case Z_OK, Z_BUF_ERROR:
                // With room left in the output, zlib stops only when it needs more input.
                if inputExhausted && left > 0 {
                    throw WireError(.invalidCompression, "the compressed body is truncated")
                }
            case Z_MEM_ERROR:
                throw WireError(.payloadTooLarge, "the decompressor ran out of memory")
            case Z_NEED_DICT:
                throw WireError(.invalidCompression, "the compressed body needs a preset dictionary")
            default:
                throw WireError(.invalidCompression, "the compressed body is corrupt")
            }
        }
    }
}
