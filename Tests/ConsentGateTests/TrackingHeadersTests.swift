import HTTPTypes
import Testing

@testable import ConsentGate

/// The headers a tracking route reads, in one pass: each as `HTTPFields`' lookup by name answers.
@Suite struct TrackingHeadersTests {
    @Test func readsEachHeaderAsTheLookupByNameDoes() {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields.append(HTTPField(name: .contentEncoding, value: "gzip"))
        fields.append(HTTPField(name: .contentEncoding, value: "br"))  // repeated: joined
        fields[.authorization] = "Basic d2s6"
        fields[.userAgent] = "analytics-python/2.4.0"
        fields[.origin] = "https://shop.example"
        fields[TrackingHeaders.globalPrivacyControlName] = " 1 "
        fields[.accessControlRequestHeaders] = "content-type"
        fields[.accept] = "*/*"
        let headers = TrackingHeaders(fields)
        #expect(headers.contentEncoding == fields[.contentEncoding])
        #expect(headers.contentEncoding == "gzip, br")
        #expect(headers.contentType == fields[.contentType])
        #expect(headers.authorization == fields[.authorization])
        #expect(headers.userAgent == fields[.userAgent])
        #expect(headers.origin == fields[.origin])
        #expect(headers.accessControlRequestHeaders == fields[.accessControlRequestHeaders])
        #expect(headers.gpc)
    }

    @Test func namesAreCaseInsensitiveAndAbsentOnesNil() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("sec-gpc")!, value: "0"))
        fields.append(HTTPField(name: HTTPField.Name("CONTENT-ENCODING")!, value: "deflate"))
        let headers = TrackingHeaders(fields)
        #expect(headers.contentEncoding == "deflate")
        #expect(!headers.gpc)
        #expect(headers.origin == nil && headers.authorization == nil && headers.contentType == nil)
        #expect(headers.userAgent == nil && headers.accessControlRequestHeaders == nil)
        #expect(!TrackingHeaders(HTTPFields()).gpc)
    }
}
