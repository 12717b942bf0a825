import Testing

@testable import ConsentGate

/// ``HTTPCaching``: `If-None-Match`, `Accept-Encoding` and `Cache-Control` as the first-party CDN reads them.
@Suite struct HTTPCachingTests {
    @Test func anETagIsWeakAndNamesItsBody() {
        let tag = HTTPCaching.etag(of: Array("abc".utf8))
        #expect(tag.hasPrefix("W/\"") && tag.hasSuffix("\"") && tag.count == 36)
        #expect(tag == HTTPCaching.etag(of: Array("abc".utf8)))
        #expect(tag != HTTPCaching.etag(of: Array("abd".utf8)))
    }

    @Test(arguments: [
        (#"W/"x""#, true), (#""x""#, true), (#""y", W/"x""#, true), ("*", true), (#""y""#, false), ("", false), (#"W/"xx""#, false),
    ])
    func ifNoneMatchComparesWeakly(header: String, matches: Bool) {
        #expect(HTTPCaching.matches(ifNoneMatch: header, etag: #"W/"x""#) == matches)
    }

    @Test func noIfNoneMatchMatchesNothing() {
        #expect(!HTTPCaching.matches(ifNoneMatch: nil, etag: #"W/"x""#))
    }

    @Test(arguments: [
        ("gzip", true), ("gzip, deflate, br", true), ("br;q=1.0, GZIP;q=0.5", true), ("x-gzip", true), ("*", true),
        ("gzip;q=0", false), ("gzip; q=0.0", false), ("deflate, br", false), ("identity", false), ("", false),
    ])
    func acceptEncodingNamesGzip(header: String, accepts: Bool) {
        #expect(HTTPCaching.acceptsGzip(header) == accepts)
    }

    @Test(arguments: [
        ("public, max-age=300", 300), ("max-age=60, s-maxage=600", 600), ("no-cache", 0), ("public", 0), ("max-age=\"5\"", 5),
        ("max-age=-3", 0), ("immutable, max-age=31536000", 31_536_000), (",", 0),
    ])
    func cacheControlGivesTheSharedLifetime(header: String, seconds: Int) {
        #expect(HTTPCaching.sharedLifetime(cacheControl: header) == seconds)
    }

    @Test func noStoreAndPrivateAreNotKept() {
        #expect(HTTPCaching.sharedLifetime(cacheControl: "no-store") == nil)
        #expect(HTTPCaching.sharedLifetime(cacheControl: "private, max-age=60") == nil)
        #expect(HTTPCaching.sharedLifetime(cacheControl: nil) == 0)
    }
}
