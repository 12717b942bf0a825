import CZlib
import Testing
import WireTestSupport

@testable import SegmentWire

// MARK: - Helpers

/// Compresses with zlib's deflate directly, streaming `chunks` of `chunkSize` copies of `byte`
/// (so a 1 GB bomb never needs 1 GB in memory), or compresses `bytes` when given.
private func deflateStream(
    windowBits: Int32,
    level: Int32 = 9,
    bytes: [UInt8]? = nil,
    repeating byte: UInt8 = 0,
    chunkSize: Int = 1 << 20,
    chunks: Int = 0
) -> [UInt8] {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    defer { stream.deallocate() }
    precondition(
        deflateInit2_(stream, level, Z_DEFLATED, windowBits, 9, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    )
    defer { deflateEnd(stream) }

    var output: [UInt8] = []
    var scratch = [UInt8](repeating: 0, count: 1 << 16)
    func pump(_ input: UnsafeRawBufferPointer, flush: Int32) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        repeat {
            let status: Int32 = scratch.withUnsafeMutableBufferPointer { buffer in
                stream.pointee.next_out = buffer.baseAddress
                stream.pointee.avail_out = UInt32(buffer.count)
                return deflate(stream, flush)
            }
            precondition(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR)
            output.append(contentsOf: scratch[..<(scratch.count - Int(stream.pointee.avail_out))])
        } while stream.pointee.avail_out == 0
    }
    if let bytes {
        bytes.withUnsafeBytes { pump($0, flush: Z_FINISH) }
    } else {
        let chunk = [UInt8](repeating: byte, count: chunkSize)
        chunk.withUnsafeBytes { raw in
            for _ in 0..<chunks { pump(raw, flush: Z_NO_FLUSH) }
        }
        pump(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
    }
    return output
}

private func hex(_ string: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var iterator = string.utf8.makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : (c | 0x20) - UInt8(ascii: "a") + 10 }
    while let high = iterator.next(), let low = iterator.next() {
        bytes.append(nibble(high) << 4 | nibble(low))
    }
    return bytes
}

private func inflate(_ bytes: [UInt8], _ coding: ContentCoding, limit: Int = 1 << 20) throws(WireError) -> [UInt8] {
    let result = bytes.withUnsafeBytes { raw in
        Result { () throws(WireError) -> [UInt8] in try Inflater.inflate(raw, coding: coding, limit: limit) }
    }
    return try result.get()
}

private func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
    bytes.withUnsafeBytes { Gzip.compress($0, level: level) }
}

/// The code of the error `body` throws, `nil` when it does not throw.
private func wireError(_ body: () throws -> [UInt8]) -> WireError.Code? {
    do {
        _ = try body()
        return nil
    } catch {
        return (error as? WireError)?.code
    }
}

/// A JSON-like body with some repetition, `count` bytes long.
private func sampleBody(_ count: Int) -> [UInt8] {
    let unit = Array(#"{"type":"track","event":"Order Completed","userId":"u-42","properties":{"n":7}},"#.utf8)
    var state: UInt32 = 12345
    return (0..<count).map { index in
        state = state &* 1_103_515_245 &+ 12345
        // Mostly the repeating unit, with a little noise so the data is not trivially compressible.
        return index % 17 == 0 ? UInt8(truncatingIfNeeded: state >> 16) : unit[index % unit.count]
    }
}

/// `{"batch":[{"type":"track","event":"Signed Up","userId":"u1"}]}`, compressed by Python's zlib.
private let pythonPlain = Array(#"{"batch":[{"type":"track","event":"Signed Up","userId":"u1"}]}"#.utf8)
/// `zlib.compress(plain, 9)`
private let pythonZlib = hex(
    "78daab564a4a2c49ce50b28aae562aa92c4855b2522a294a4cce56d2514a2d4bcd2b01f28333d3f3525314420b8062a5c5a9459e2940c15243a5dad85a0082861411"
)
/// `zlib.compressobj(6, zlib.DEFLATED, -15)`: raw deflate, no zlib header.
private let pythonRawDeflate = hex(
    "ab564a4a2c49ce50b28aae562aa92c4855b2522a294a4cce56d2514a2d4bcd2b01f28333d3f3525314420b8062a5c5a9459e2940c15243a5dad85a00"
)
/// `gzip.compress(plain, mtime=0)`
private let pythonGzip = hex(
    "1f8b0800000000000203ab564a4a2c49ce50b28aae562aa92c4855b2522a294a4cce56d2514a2d4bcd2b01f28333d3f3525314420b8062a5c5a9459e2940c15243a5dad85a00c70b490c3e000000"
)
/// `gzip.GzipFile(filename='body.json', mtime=0)`: a header with the FNAME field.
private let pythonGzipWithName = hex(
    "1f8b08080000000002ff626f64792e6a736f6e00ab564a4a2c49ce50b28aae562aa92c4855b2522a294a4cce56d2514a2d4bcd2b01f28333d3f3525314420b8062a5c5a9459e2940c15243a5dad85a00c70b490c3e000000"
)

// MARK: - Round trips

@Suite struct InflaterTests {
    @Test(arguments: [0, 1, 100, 4_096, 100_000, 600_000])
    func gzipRoundTrip(size: Int) throws {
        let body = sampleBody(size)
        #expect(try inflate(gzip(body), .gzip) == body)
    }

    @Test(arguments: [0 as Int32, 1, 6, 9, -3, 42])
    func gzipLevels(level: Int32) throws {
        let body = sampleBody(20_000)
        let compressed = gzip(body, level: level)
        #expect(compressed.starts(with: [0x1F, 0x8B, 0x08]))
        #expect(try inflate(compressed, .gzip) == body)
    }

    @Test func gzipCompressesRepetitiveData() {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 100_000)
        #expect(gzip(body).count < 1_000)
    }

    @Test(arguments: [0, 1, 5_000, 300_000])
    func zlibDeflateRoundTrip(size: Int) throws {
        let body = sampleBody(size)
        let compressed = deflateStream(windowBits: 15, bytes: body)
        #expect(Inflater.hasZlibHeader(compressed.withUnsafeBytes { UnsafeRawBufferPointer($0) }))
        #expect(try inflate(compressed, .deflate) == body)
    }

    @Test(arguments: [0, 1, 5_000, 300_000])
    func rawDeflateRoundTrip(size: Int) throws {
        let body = sampleBody(size)
        #expect(try inflate(deflateStream(windowBits: -15, bytes: body), .deflate) == body)
    }

    @Test func helperGzipMatchesInflater() throws {
        let body = sampleBody(50_000)
        #expect(try inflate(deflateStream(windowBits: 31, bytes: body), .gzip) == body)
    }

    @Test func pythonFixtures() throws {
        #expect(try inflate(pythonZlib, .deflate) == pythonPlain)
        #expect(try inflate(pythonRawDeflate, .deflate) == pythonPlain)
        #expect(try inflate(pythonGzip, .gzip) == pythonPlain)
        #expect(try inflate(pythonGzipWithName, .gzip) == pythonPlain)
    }

    @Test func codingsAreNotInterchangeable() {
        #expect(wireError { try inflate(pythonGzip, .deflate) } == .invalidCompression)
        #expect(wireError { try inflate(pythonZlib, .gzip) } == .invalidCompression)
        #expect(wireError { try inflate(pythonRawDeflate, .gzip) } == .invalidCompression)
        #expect(wireError { try inflate(pythonPlain, .gzip) } == .invalidCompression)
        #expect(wireError { try inflate(pythonPlain, .deflate) } == .invalidCompression)
    }

    @Test func identityReturnsTheBytes() throws {
        #expect(try inflate(pythonPlain, .identity, limit: pythonPlain.count) == pythonPlain)
        #expect(try inflate([], .identity, limit: 0) == [])
        #expect(wireError { try inflate(pythonPlain, .identity, limit: pythonPlain.count - 1) } == .payloadTooLarge)
    }

    // MARK: Limits

    @Test(arguments: [ContentCoding.gzip, .deflate])
    func limitExactlyAtTheBoundary(coding: ContentCoding) throws {
        for size in [0, 1, 1_000, 1_024, 4_097, 65_536, 250_001] {
            let body = sampleBody(size)
            let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
            #expect(try inflate(compressed, coding, limit: size) == body)
            #expect(try inflate(compressed, coding, limit: size + 1) == body)
            if size > 0 {
                #expect(wireError { try inflate(compressed, coding, limit: size - 1) } == .payloadTooLarge)
            }
        }
    }

    @Test func negativeLimitIsZero() throws {
        #expect(try inflate(gzip([]), .gzip, limit: -5) == [])
        #expect(wireError { try inflate(gzip([1]), .gzip, limit: -5) } == .payloadTooLarge)
    }

    @Test func bombConstructionIsAValidStream() throws {
        // The bomb builder's output is a correct stream (the inflater checks CRC-32, Adler-32 and size).
        for gzip in [true, false] {
            let small = DecompressionBomb.zeros(megabytes: 3, gzip: gzip)
            let all = try inflate(small, gzip ? .gzip : .deflate, limit: 3 << 20)
            #expect(all.count == 3 << 20)
            #expect(stride(from: 0, to: all.count, by: 4_093).allSatisfy { all[$0] == 0 } && all.last == 0)
        }
    }

    @Test func tenMegabyteBomb() throws {
        let bomb = DecompressionBomb.zeros(megabytes: 10, gzip: true)
        #expect(bomb.count < 20_000)
        #expect(wireError { try inflate(bomb, .gzip, limit: 500 * 1024) } == .payloadTooLarge)
        #expect(wireError { try inflate(bomb, .gzip, limit: (10 << 20) - 1) } == .payloadTooLarge)
        // Under a limit that fits, it inflates completely.
        #expect(try inflate(bomb, .gzip, limit: 10 << 20).count == 10 << 20)
        // The same through deflate's streaming API, chunk by chunk (a regular, non-flushed stream).
        let streamed = deflateStream(windowBits: 31, chunks: 10)
        #expect(wireError { try inflate(streamed, .gzip, limit: 500 * 1024) } == .payloadTooLarge)
        #expect(try inflate(streamed, .gzip, limit: 10 << 20).count == 10 << 20)
    }

    @Test func oneGigabyteBomb() throws {
        // 1 GB of zeros in about 1 MB of gzip; neither side ever holds 1 GB.
        let bomb = DecompressionBomb.zeros(megabytes: 1_024, gzip: true)
        #expect(bomb.count < 2 << 20)
        #expect(wireError { try inflate(bomb, .gzip, limit: 500 * 1024) } == .payloadTooLarge)
        #expect(wireError { try inflate(bomb, .gzip, limit: 32 * 1024) } == .payloadTooLarge)
        #expect(wireError { try inflate(bomb, .gzip, limit: 0) } == .payloadTooLarge)
        // The same bomb as a zlib stream (`deflate`).
        let zlibBomb = DecompressionBomb.zeros(megabytes: 1_024, gzip: false)
        #expect(wireError { try inflate(zlibBomb, .deflate, limit: 500 * 1024) } == .payloadTooLarge)
    }

    // MARK: Malformed streams

    @Test(arguments: [ContentCoding.gzip, .deflate])
    func truncated(coding: ContentCoding) {
        let body = sampleBody(30_000)
        let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
        for keep in [0, 1, 2, 5, 10, compressed.count / 2, compressed.count - 4, compressed.count - 1] {
            let cut = Array(compressed[..<keep])
            #expect(wireError { try inflate(cut, coding) } == .invalidCompression, "kept \(keep) of \(compressed.count)")
        }
    }

    @Test func truncatedPythonFixtures() {
        for fixture in [pythonGzip, pythonGzipWithName] {
            for keep in [3, 9, 15, fixture.count - 8, fixture.count - 1] {
                #expect(wireError { try inflate(Array(fixture[..<keep]), .gzip) } == .invalidCompression)
            }
        }
        #expect(wireError { try inflate(Array(pythonZlib.dropLast()), .deflate) } == .invalidCompression)
        #expect(wireError { try inflate(Array(pythonRawDeflate.dropLast()), .deflate) } == .invalidCompression)
    }

    @Test(arguments: [ContentCoding.gzip, .deflate])
    func trailingGarbage(coding: ContentCoding) {
        let body = sampleBody(1_000)
        let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
        for garbage: [UInt8] in [[0x00], [UInt8(ascii: "x")], [UInt8(ascii: " "), UInt8(ascii: "}")], Array(repeating: 0xFF, count: 100)] {
            #expect(wireError { try inflate(compressed + garbage, coding) } == .invalidCompression)
        }
        // A second gzip member counts as trailing bytes.
        if coding == .gzip {
            #expect(wireError { try inflate(compressed + compressed, coding) } == .invalidCompression)
        }
    }

    @Test func trailingGarbageAfterRawDeflate() {
        #expect(wireError { try inflate(pythonRawDeflate + [0x41], .deflate) } == .invalidCompression)
    }

    @Test(arguments: [ContentCoding.gzip, .deflate])
    func trailingWhiteSpaceIsAccepted(coding: ContentCoding) throws {
        let body = sampleBody(1_000)
        let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
        #expect(try inflate(compressed + Array("\r\n \t\n".utf8), coding) == body)
    }

    @Test func corruptBytes() {
        let body = sampleBody(20_000)
        let compressed = gzip(body)
        // A bad magic number, method, CRC and length, and a flipped bit in the deflate data.
        var badMagic = compressed
        badMagic[0] = 0x1E
        var badMethod = compressed
        badMethod[2] = 7
        var badCRC = compressed
        badCRC[compressed.count - 6] ^= 0x01
        var badLength = compressed
        badLength[compressed.count - 3] ^= 0x01
        for corrupt in [badMagic, badMethod, badCRC, badLength] {
            #expect(wireError { try inflate(corrupt, .gzip) } == .invalidCompression)
        }
        // Bit flips inside the deflate data: zlib's checks (codes, distances, CRC-32) catch each one.
        for position in stride(from: 12, to: compressed.count - 8, by: max(1, compressed.count / 40)) {
            var flipped = compressed
            flipped[position] ^= 0x10
            #expect(wireError { try inflate(flipped, .gzip) } == .invalidCompression, "flip at \(position)")
        }
        // A zlib stream with a bad Adler-32.
        var badAdler = pythonZlib
        badAdler[badAdler.count - 1] ^= 0x01
        #expect(wireError { try inflate(badAdler, .deflate) } == .invalidCompression)
        // Random bytes.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<4_096).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        #expect(wireError { try inflate(noise, .gzip) } == .invalidCompression)
        #expect(wireError { try inflate([0x1F, 0x8B] + noise, .gzip) } == .invalidCompression)
    }

    @Test func zlibHeaderRequiringAPresetDictionaryIsRefused() {
        // CMF 0x78, FLG with FDICT set and a valid check: 0x78BB (30907 = 31 × 997).
        #expect(wireError { try inflate([0x78, 0xBB, 0, 0, 0, 1, 0x03, 0x00], .deflate) } == .invalidCompression)
    }

    @Test func zlibHeaderDetection() {
        func check(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { Inflater.hasZlibHeader($0) } }
        #expect(check([0x78, 0x9C]))
        #expect(check([0x78, 0xDA]))
        #expect(check([0x78, 0x01]))
        #expect(check([0x08, 0x1D]))
        #expect(!check([0x78, 0x9D]))
        #expect(!check([0x79, 0x9C]))
        #expect(!check([0x78]))
        #expect(!check([]))
    }

    @Test func emptyCompressedInputIsTruncated() {
        #expect(wireError { try inflate([], .gzip) } == .invalidCompression)
        #expect(wireError { try inflate([], .deflate) } == .invalidCompression)
    }
}

// MARK: - Content-Encoding header

/// `Content-Encoding` parsing (nested so that a filter on `InflaterTests` runs it too).
extension InflaterTests {
    @Suite struct ContentCodingHeader {
        @Test(arguments: [
            ("gzip", ContentCoding.gzip), ("GZIP", .gzip), ("  gzip ", .gzip), ("\tGzIp\t", .gzip),
            ("x-gzip", .gzip), ("X-Gzip", .gzip),
            ("deflate", .deflate), ("Deflate ", .deflate),
            ("identity", .identity), ("IDENTITY", .identity), ("", .identity), ("   ", .identity),
        ])
        func accepted(header: String, coding: ContentCoding) {
            #expect(ContentCoding(headerValue: header) == coding)
            #expect(ContentCoding(headerValue: header[...]) == coding)
        }

        @Test(arguments: ["br", "zstd", "compress", "gzip, gzip", "gzip,deflate", "gzip;q=1", "gzi", "gzipp", "x-deflate", "identity, gzip", "gz ip"])
        func refused(header: String) {
            #expect(ContentCoding(headerValue: header) == nil)
        }

        @Test func names() {
            #expect(ContentCoding.gzip.name == "gzip")
            #expect(ContentCoding.deflate.name == "deflate")
            #expect(ContentCoding.identity.name == "identity")
        }
    }
}
