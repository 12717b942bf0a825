import Testing

@testable import SegmentWire

/// libdeflate's run-time loader: it finds the installed library, and a missing library or symbol is a
/// plain "not available" (zlib then does the work), never a crash.
@Suite struct LibDeflateTests {
    @Test func loadsTheInstalledLibrary() throws {
        // scripts/test.sh installs Debian's libdeflate0.
        let library = try LibDeflate.load().get()
        // The resolved entry points work: a round trip through them.
        let body = Array(#"{"batch":[{"type":"track","event":"e","userId":"u"}]}"#.utf8)
        let compressed = body.withUnsafeBytes { Gzip.compress($0, using: .libdeflate) }
        let decompressor = try #require(library.allocDecompressor())
        defer { library.freeDecompressor(decompressor) }
        var out = [UInt8](repeating: 0, count: body.count)
        var consumed = 0
        var produced = 0
        let result = compressed.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                library.gzipDecompressEx(decompressor, input.baseAddress, input.count, output.baseAddress, output.count, &consumed, &produced)
            }
        }
        #expect(result == LibDeflate.success)
        #expect(consumed == compressed.count && produced == body.count && out == body)
        #expect(DeflateLibrary.preferred == .libdeflate)
        #expect(DeflateLibrary.libDeflateProblem == nil)
    }

    @Test func aMissingLibraryIsNamed() {
        guard case .failure(let problem) = LibDeflate.load(names: ["libdeflate-not-installed.so.9"]) else {
            Issue.record("a library that does not exist loaded")
            return
        }
        #expect(problem.description.contains("libdeflate-not-installed.so.9"))
    }

    @Test func aLibraryWithoutTheEntryPointsIsRefused() {
        // zlib's shared library loads, but has none of libdeflate's symbols.
        guard case .failure(let problem) = LibDeflate.load(names: ["libz.so.1"]) else {
            Issue.record("libz.so.1 was taken for libdeflate")
            return
        }
        #expect(problem.description.contains("libdeflate_alloc_decompressor"))
    }

    @Test func zlibIsUsedWhenAskedFor() {
        #expect(DeflateLibrary.zlib.effective == .zlib)
        #expect(DeflateLibrary.libdeflate.effective == (DeflateLibrary.isLibDeflateAvailable ? .libdeflate : .zlib))
    }
}
