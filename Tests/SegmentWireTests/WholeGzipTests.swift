import Testing

@testable import SegmentWire

/// The one-call libdeflate path of ``Inflater`` (loaded at run time, ``LibDeflate``): it must take every well-formed single-member body and
/// decline everything else, so the streaming path (and its precise errors and hard cap) still judges those.
@Suite struct WholeGzipTests {
    private let body = Array(#"{"batch":[{"type":"track","event":"Order Completed","messageId":"m-1"}]}"#.utf8)

    private func whole(_ input: [UInt8], limit: Int = 1 << 20) -> [UInt8]? {
        input.withUnsafeBytes { Inflater.wholeGzip($0, limit: limit) }
    }

    @Test func takesAWellFormedMember() {
        #expect(whole(gz(body)) == body)
    }

    @Test func libDeflateIsLoaded() {
        // The machine's test command installs libdeflate0; without it every test below would pass vacuously.
        #expect(DeflateLibrary.isLibDeflateAvailable, "\(DeflateLibrary.libDeflateProblem ?? "")")
    }

    @Test func declinesTrailingWhiteSpace() {
        // Issue 19 (6): any byte after the member, white space included, is for the streaming path to refuse.
        #expect(whole(gz(body) + Array(" \n".utf8)) == nil)
        #expect(whole(gz(body) + [0x20]) == nil)
    }

    @Test func declinesAHeaderCRCAndReservedFlags() {
        // libdeflate skips FHCRC's CRC16 where zlib checks it: the streaming path judges such headers.
        for flag: UInt8 in [0x02, 0x20, 0x40, 0x80] {
            var compressed = gz(body)
            compressed[3] |= flag
            #expect(whole(compressed) == nil)
        }
    }

    @Test func takesABodyOfExactlyTheLimit() {
        #expect(whole(gz(body), limit: body.count) == body)
    }

    @Test func declinesABodyOverTheLimit() {
        #expect(whole(gz(body), limit: body.count - 1) == nil)
    }

    @Test(arguments: [-1, 1, 1000])
    func declinesALyingSize(delta: Int) {
        var compressed = gz(body)
        let size = UInt32(body.count + delta)
        let end = compressed.count
        compressed.replaceSubrange((end - 4)..<end, with: [UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24)])
        #expect(whole(compressed) == nil)
        // The streaming path refuses it too: the trailer does not match.
        #expect(throws: WireError.self) { try compressed.withUnsafeBytes { try Inflater.inflate($0, coding: .gzip, limit: 1 << 20) } }
    }

    @Test func declinesACorruptCRC() {
        var compressed = gz(body)
        compressed[compressed.count - 8] ^= 0xFF
        #expect(whole(compressed) == nil)
    }

    @Test func declinesASecondMember() {
        let twice = gz(body) + gz(body)
        #expect(whole(twice) == nil)
        #expect(throws: WireError.self) { try twice.withUnsafeBytes { try Inflater.inflate($0, coding: .gzip, limit: 1 << 20) } }
    }

    @Test func declinesTruncatedAndTinyInputs() {
        let compressed = gz(body)
        #expect(whole(Array(compressed.prefix(compressed.count / 2))) == nil)
        #expect(whole(Array(compressed.prefix(10))) == nil)
        #expect(whole([]) == nil)
    }

    @Test func emptyBodyRoundTrips() {
        #expect(whole(gz([])) == [])
    }
}

private func gz(_ bytes: [UInt8]) -> [UInt8] {
    bytes.withUnsafeBytes { Gzip.compress($0) }
}
