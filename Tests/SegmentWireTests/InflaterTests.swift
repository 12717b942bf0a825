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

private func inflate(_ bytes: [UInt8], _ coding: ContentCoding, limit: Int = 1 << 20, using library: DeflateLibrary) throws(WireError) -> [UInt8] {
    let result = bytes.withUnsafeBytes { raw in
        Result { () throws(WireError) -> [UInt8] in try Inflater.inflate(raw, coding: coding, limit: limit, using: library) }
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

/// What an inflate gave: the bytes, or the error's code.
private enum Outcome: Equatable {
    case bytes([UInt8])
    case refused(WireError.Code)

    init(_ body: () throws(WireError) -> [UInt8]) {
        do {
            self = .bytes(try body())
        } catch {
            self = .refused(error.code)
        }
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
    @Test(arguments: DeflateLibrary.allCases, [0, 1, 100, 4_096, 100_000, 600_000])
    func gzipRoundTrip(library: DeflateLibrary, size: Int) throws {
        let body = sampleBody(size)
        #expect(try inflate(gzip(body), .gzip, using: library) == body)
    }

    @Test(arguments: DeflateLibrary.allCases, [0 as Int32, 1, 6, 9, -3, 42])
    func gzipLevels(library: DeflateLibrary, level: Int32) throws {
        let body = sampleBody(20_000)
        let compressed = gzip(body, level: level)
        #expect(compressed.starts(with: [0x1F, 0x8B, 0x08]))
        #expect(try inflate(compressed, .gzip, using: library) == body)
    }

    @Test func gzipCompressesRepetitiveData() {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 100_000)
        #expect(gzip(body).count < 1_000)
    }

    @Test(arguments: DeflateLibrary.allCases, [0, 1, 5_000, 300_000])
    func zlibDeflateRoundTrip(library: DeflateLibrary, size: Int) throws {
        let body = sampleBody(size)
        let compressed = deflateStream(windowBits: 15, bytes: body)
        #expect(Inflater.hasZlibHeader(compressed.withUnsafeBytes { UnsafeRawBufferPointer($0) }))
        #expect(try inflate(compressed, .deflate, using: library) == body)
    }

    @Test(arguments: DeflateLibrary.allCases, [0, 1, 5_000, 300_000])
    func rawDeflateRoundTrip(library: DeflateLibrary, size: Int) throws {
        let body = sampleBody(size)
        #expect(try inflate(deflateStream(windowBits: -15, bytes: body), .deflate, using: library) == body)
    }

    @Test(arguments: DeflateLibrary.allCases) func helperGzipMatchesInflater(library: DeflateLibrary) throws {
        let body = sampleBody(50_000)
        #expect(try inflate(deflateStream(windowBits: 31, bytes: body), .gzip, using: library) == body)
    }

    @Test(arguments: DeflateLibrary.allCases) func pythonFixtures(library: DeflateLibrary) throws {
        #expect(try inflate(pythonZlib, .deflate, using: library) == pythonPlain)
        #expect(try inflate(pythonRawDeflate, .deflate, using: library) == pythonPlain)
        #expect(try inflate(pythonGzip, .gzip, using: library) == pythonPlain)
        #expect(try inflate(pythonGzipWithName, .gzip, using: library) == pythonPlain)
    }

    @Test(arguments: DeflateLibrary.allCases) func codingsAreNotInterchangeable(library: DeflateLibrary) {
        #expect(wireError { try inflate(pythonGzip, .deflate, using: library) } == .invalidCompression)
        #expect(wireError { try inflate(pythonZlib, .gzip, using: library) } == .invalidCompression)
        #expect(wireError { try inflate(pythonRawDeflate, .gzip, using: library) } == .invalidCompression)
        #expect(wireError { try inflate(pythonPlain, .gzip, using: library) } == .invalidCompression)
        #expect(wireError { try inflate(pythonPlain, .deflate, using: library) } == .invalidCompression)
    }

    @Test(arguments: DeflateLibrary.allCases) func identityReturnsTheBytes(library: DeflateLibrary) throws {
        #expect(try inflate(pythonPlain, .identity, limit: pythonPlain.count, using: library) == pythonPlain)
        #expect(try inflate([], .identity, limit: 0, using: library) == [])
        #expect(wireError { try inflate(pythonPlain, .identity, limit: pythonPlain.count - 1, using: library) } == .payloadTooLarge)
    }

    // MARK: Limits

    @Test(arguments: DeflateLibrary.allCases, [ContentCoding.gzip, .deflate])
    func limitExactlyAtTheBoundary(library: DeflateLibrary, coding: ContentCoding) throws {
        for size in [0, 1, 1_000, 1_024, 4_097, 65_536, 250_001] {
            let body = sampleBody(size)
            let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
            #expect(try inflate(compressed, coding, limit: size, using: library) == body)
            #expect(try inflate(compressed, coding, limit: size + 1, using: library) == body)
            if size > 0 {
                #expect(wireError { try inflate(compressed, coding, limit: size - 1, using: library) } == .payloadTooLarge)
            }
        }
    }

    @Test(arguments: DeflateLibrary.allCases) func negativeLimitIsZero(library: DeflateLibrary) throws {
        #expect(try inflate(gzip([]), .gzip, limit: -5, using: library) == [])
        #expect(wireError { try inflate(gzip([1]), .gzip, limit: -5, using: library) } == .payloadTooLarge)
    }

    @Test(arguments: DeflateLibrary.allCases) func bombConstructionIsAValidStream(library: DeflateLibrary) throws {
        // The bomb builder's output is a correct stream (the inflater checks CRC-32, Adler-32 and size).
        for gzip in [true, false] {
            let small = DecompressionBomb.zeros(megabytes: 3, gzip: gzip)
            let all = try inflate(small, gzip ? .gzip : .deflate, limit: 3 << 20, using: library)
            #expect(all.count == 3 << 20)
            #expect(stride(from: 0, to: all.count, by: 4_093).allSatisfy { all[$0] == 0 } && all.last == 0)
        }
    }

    @Test(arguments: DeflateLibrary.allCases) func tenMegabyteBomb(library: DeflateLibrary) throws {
        let bomb = DecompressionBomb.zeros(megabytes: 10, gzip: true)
        #expect(bomb.count < 20_000)
        #expect(wireError { try inflate(bomb, .gzip, limit: 500 * 1024, using: library) } == .payloadTooLarge)
        #expect(wireError { try inflate(bomb, .gzip, limit: (10 << 20) - 1, using: library) } == .payloadTooLarge)
        // Under a limit that fits, it inflates completely.
        #expect(try inflate(bomb, .gzip, limit: 10 << 20, using: library).count == 10 << 20)
        // The same through deflate's streaming API, chunk by chunk (a regular, non-flushed stream).
        let streamed = deflateStream(windowBits: 31, chunks: 10)
        #expect(wireError { try inflate(streamed, .gzip, limit: 500 * 1024, using: library) } == .payloadTooLarge)
        #expect(try inflate(streamed, .gzip, limit: 10 << 20, using: library).count == 10 << 20)
    }

    @Test(arguments: DeflateLibrary.allCases) func oneGigabyteBomb(library: DeflateLibrary) throws {
        // 1 GB of zeros in about 1 MB of gzip; neither side ever holds 1 GB.
        let bomb = DecompressionBomb.zeros(megabytes: 1_024, gzip: true)
        #expect(bomb.count < 2 << 20)
        #expect(wireError { try inflate(bomb, .gzip, limit: 500 * 1024, using: library) } == .payloadTooLarge)
        #expect(wireError { try inflate(bomb, .gzip, limit: 32 * 1024, using: library) } == .payloadTooLarge)
        #expect(wireError { try inflate(bomb, .gzip, limit: 0, using: library) } == .payloadTooLarge)
        // The same bomb as a zlib stream (`deflate`).
        let zlibBomb = DecompressionBomb.zeros(megabytes: 1_024, gzip: false)
        #expect(wireError { try inflate(zlibBomb, .deflate, limit: 500 * 1024, using: library) } == .payloadTooLarge)
    }

    // MARK: Malformed streams

    @Test(arguments: DeflateLibrary.allCases, [ContentCoding.gzip, .deflate])
    func truncated(library: DeflateLibrary, coding: ContentCoding) {
        let body = sampleBody(30_000)
        let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
        for keep in [0, 1, 2, 5, 10, compressed.count / 2, compressed.count - 4, compressed.count - 1] {
            let cut = Array(compressed[..<keep])
            #expect(wireError { try inflate(cut, coding, using: library) } == .invalidCompression, "kept \(keep) of \(compressed.count)")
        }
    }

    @Test(arguments: DeflateLibrary.allCases) func truncatedPythonFixtures(library: DeflateLibrary) {
        for fixture in [pythonGzip, pythonGzipWithName] {
            for keep in [3, 9, 15, fixture.count - 8, fixture.count - 1] {
                #expect(wireError { try inflate(Array(fixture[..<keep]), .gzip, using: library) } == .invalidCompression)
            }
        }
        #expect(wireError { try inflate(Array(pythonZlib.dropLast()), .deflate, using: library) } == .invalidCompression)
        #expect(wireError { try inflate(Array(pythonRawDeflate.dropLast()), .deflate, using: library) } == .invalidCompression)
    }

    @Test(arguments: DeflateLibrary.allCases, [ContentCoding.gzip, .deflate])
    func trailingGarbage(library: DeflateLibrary, coding: ContentCoding) {
        let body = sampleBody(1_000)
        let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
        for garbage: [UInt8] in [[0x00], [UInt8(ascii: "x")], [UInt8(ascii: " "), UInt8(ascii: "}")], Array(repeating: 0xFF, count: 100), [0x20]] {
            #expect(wireError { try inflate(compressed + garbage, coding, using: library) } == .invalidCompression)
        }
        // A second gzip member counts as trailing bytes.
        if coding == .gzip {
            #expect(wireError { try inflate(compressed + compressed, coding, using: library) } == .invalidCompression)
        }
    }

    @Test(arguments: DeflateLibrary.allCases) func trailingGarbageAfterRawDeflate(library: DeflateLibrary) {
        #expect(wireError { try inflate(pythonRawDeflate + [0x41], .deflate, using: library) } == .invalidCompression)
    }

    /// Issue 19 (6): white space after the stream is trailing bytes like any other. A receiver that
    /// reads the body differently (a second member, a lenient decoder) must never see what we did not.
    @Test(arguments: DeflateLibrary.allCases, [ContentCoding.gzip, .deflate])
    func trailingWhiteSpaceIsRefused(library: DeflateLibrary, coding: ContentCoding) throws {
        let body = sampleBody(1_000)
        let compressed = coding == .gzip ? gzip(body) : deflateStream(windowBits: 15, bytes: body)
        for trailing in [" ", "\n", "\r\n", "\t", "\r\n \t\n"] {
            #expect(wireError { try inflate(compressed + Array(trailing.utf8), coding, using: library) } == .invalidCompression,
                    "\(coding) + \(Array(trailing.utf8))")
        }
        #expect(wireError { try inflate(pythonRawDeflate + [0x20], .deflate, using: library) } == .invalidCompression)
        #expect(wireError { try inflate(pythonGzip + [0x0A], .gzip, using: library) } == .invalidCompression)
        // Without them the same bodies are fine.
        #expect(try inflate(compressed, coding, using: library) == body)
    }

    /// A gzip header with FHCRC: zlib checks the header's CRC16; libdeflate would skip it, so its one-call
    /// path declines such a header and both libraries answer alike.
    @Test(arguments: DeflateLibrary.allCases)
    func gzipHeaderCRCIsChecked(library: DeflateLibrary) throws {
        let member = gzip(pythonPlain)
        let header = Array(member[..<10])
        var flagged = header
        flagged[3] |= 0x02
        let crc = flagged.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, 10)) }
        let good = flagged + [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF)] + member[10...]
        let bad = flagged + [UInt8(crc & 0xFF) ^ 0x5A, UInt8(crc >> 8 & 0xFF)] + member[10...]
        #expect(try inflate(good, .gzip, using: library) == pythonPlain)
        #expect(wireError { try inflate(bad, .gzip, using: library) } == .invalidCompression)
        // A reserved flag bit is refused too.
        var reserved = member
        reserved[3] |= 0x20
        #expect(wireError { try inflate(reserved, .gzip, using: library) } == .invalidCompression)
    }

    /// The two libraries give the same answer (the same bytes, or the same error code) on thousands of
    /// damaged bodies: bit flips, cut ends, inserted and appended bytes, lying sizes, tight limits.
    @Test func bothLibrariesAgreeOnDamagedBodies() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }
        let bodies = [sampleBody(0), sampleBody(37), sampleBody(2_000), sampleBody(40_000)]
        var compared = 0
        for body in bodies {
            for level: Int32 in [1, 6, 9] {
                let member = gzip(body, level: level)
                for _ in 0..<250 {
                    var damaged = member
                    switch next(5) {
                    case 0: damaged[next(damaged.count)] ^= UInt8(1 << next(8))
                    case 1: damaged.removeLast(1 + next(min(8, damaged.count - 1)))
                    case 2: damaged.insert(UInt8(next(256)), at: next(damaged.count))
                    case 3: damaged.append(contentsOf: [UInt8(next(256))])
                    default: damaged[damaged.count - 1 - next(4)] = UInt8(next(256))  // ISIZE
                    }
                    let limit = next(3) == 0 ? max(body.count - 1, 0) : 1 << 20
                    let fast = Outcome { () throws(WireError) in try inflate(damaged, .gzip, limit: limit, using: .libdeflate) }
                    let slow = Outcome { () throws(WireError) in try inflate(damaged, .gzip, limit: limit, using: .zlib) }
                    #expect(fast == slow, "body \(body.count) B, level \(level), limit \(limit)")
                    compared += 1
                }
            }
        }
        #expect(compared == 3_000)
    }

    /// Each library's gzip output inflates to the input with the other library too.
    @Test(arguments: DeflateLibrary.allCases, [1 as Int32, 6, 9, 12])
    func gzipOutputOfEitherLibraryInflatesWithTheOther(library: DeflateLibrary, level: Int32) throws {
        let body = sampleBody(75_000)
        let compressed = body.withUnsafeBytes { Gzip.compress($0, level: level, using: library) }
        #expect(compressed.starts(with: [0x1F, 0x8B, 0x08]))
        #expect(compressed.count < body.count / 2)
        for reader in DeflateLibrary.allCases {
            #expect(try inflate(compressed, .gzip, using: reader) == body)
        }
    }

    @Test(arguments: DeflateLibrary.allCases) func corruptBytes(library: DeflateLibrary) {
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
            #expect(wireError { try inflate(corrupt, .gzip, using: library) } == .invalidCompression)
        }
        // Bit flips inside the deflate data: zlib's checks (codes, distances, CRC-32) catch each one.
        for position in stride(from: 12, to: compressed.count - 8, by: max(1, compressed.count / 40)) {
            var flipped = compressed
            flipped[position] ^= 0x10
            #expect(wireError { try inflate(flipped, .gzip, using: library) } == .invalidCompression, "flip at \(position)")
        }
        // A zlib stream with a bad Adler-32.
        var badAdler = pythonZlib
        badAdler[badAdler.count - 1] ^= 0x01
        #expect(wireError { try inflate(badAdler, .deflate, using: library) } == .invalidCompression)
        // Random bytes.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<4_096).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        #expect(wireError { try inflate(noise, .gzip, using: library) } == .invalidCompression)
        #expect(wireError { try inflate([0x1F, 0x8B] + noise, .gzip, using: library) } == .invalidCompression)
    }

    @Test(arguments: DeflateLibrary.allCases) func zlibHeaderRequiringAPresetDictionaryIsRefused(library: DeflateLibrary) {
        // CMF 0x78, FLG with FDICT set and a valid check: 0x78BB (30907 = 31 × 997).
        #expect(wireError { try inflate([0x78, 0xBB, 0, 0, 0, 1, 0x03, 0x00], .deflate, using: library) } == .invalidCompression)
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

    @Test(arguments: DeflateLibrary.allCases) func emptyCompressedInputIsTruncated(library: DeflateLibrary) {
        #expect(wireError { try inflate([], .gzip, using: library) } == .invalidCompression)
        #expect(wireError { try inflate([], .deflate, using: library) } == .invalidCompression)
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
