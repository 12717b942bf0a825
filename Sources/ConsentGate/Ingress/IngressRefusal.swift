import HTTPTypes
import SegmentWire

/// Every answer of the ingress that is not `{"success":true}`: a stable code with its status, a message
/// that never carries payload bytes, extra headers (`Allow`, `Retry-After`), and whether the connection
/// closes after it.
///
/// Each step of ``IngressResponder`` throws it (typed throws); ``IngressResponder`` turns it into the
/// response, the metric, the CORS headers, the request id and the connection close in one place.
/// ``Code/all`` is the one list of codes the README's status table is checked against.
struct IngressRefusal: Error, Sendable {
    /// A stable, machine-readable code and the status it answers with.
    struct Code: Sendable, Hashable, CustomStringConvertible {
        let rawValue: String
        /// The HTTP status; `nil` where it is Segment's own (a relayed 4xx).
        let status: Int?

        private init(_ rawValue: String, status: Int?) {
            self.rawValue = rawValue
            self.status = status
        }

        init(_ wire: WireError.Code) {
            self.init(wire.rawValue, status: wire.status)
        }

        var description: String { rawValue }

        // The route, the method and the headers.
        static let notFound = Code("not_found", status: 404)
        static let methodNotAllowed = Code("method_not_allowed", status: 405)
        static let unsupportedEncoding = Code(WireError.Code.unsupportedEncoding)
        static let invalidAuthorization = Code("invalid_authorization", status: 401)
        static let missingWriteKey = Code("missing_write_key", status: 401)
        static let unknownWriteKey = Code("unknown_write_key", status: 401)
        static let overloaded = Code("overloaded", status: 503)
        // The body.
        static let payloadTooLarge = Code(WireError.Code.payloadTooLarge)
        static let bodyTimeout = Code("body_timeout", status: 408)
        static let invalidCompression = Code(WireError.Code.invalidCompression)
        static let invalidJSON = Code(WireError.Code.invalidJSON)
        static let nestingTooDeep = Code(WireError.Code.nestingTooDeep)
        static let eventTooLarge = Code(WireError.Code.eventTooLarge)
        static let batchTooLarge = Code(WireError.Code.batchTooLarge)
        static let tooManyEvents = Code(WireError.Code.tooManyEvents)
        static let invalidBatch = Code(WireError.Code.invalidBatch)
        static let invalidEvent = Code(WireError.Code.invalidEvent)
        // Consent.
        static let consentUnverifiable = Code("consent_unverifiable", status: 503)
        // Segment's answer, relayed (``UpstreamRelay``).
        static let rateLimited = Code("rate_limited", status: 429)
        static let upstreamError = Code("upstream_error", status: 502)
        static let upstreamTimeout = Code("upstream_timeout", status: 503)
        static let upstreamUnreachable = Code("upstream_unreachable", status: 502)
        static let upstreamRejected = Code("upstream_rejected", status: nil)
        // First-party analytics.js (``BrowserAssets``).
        static let cdnUnavailable = Code("cdn_unavailable", status: 502)
        // The spool (`delivery.mode: spool`): nothing is acknowledged that is not on disk.
        static let spoolFull = Code("spool_full", status: 503)
        static let spoolUnavailable = Code("spool_unavailable", status: 503)

        /// Every code the ingress answers with.
        static let all: [Code] = [
            notFound, methodNotAllowed, unsupportedEncoding, invalidAuthorization, missingWriteKey, unknownWriteKey, overloaded,
            payloadTooLarge, bodyTimeout, invalidCompression, invalidJSON, nestingTooDeep, eventTooLarge, batchTooLarge,
            tooManyEvents, invalidBatch, invalidEvent, consentUnverifiable, rateLimited, upstreamError, upstreamTimeout,
            upstreamUnreachable, upstreamRejected, cdnUnavailable, spoolFull, spoolUnavailable,
        ]
    }

    var code: Code
    var message: String
    /// Headers added to the CORS headers and the request id.
    var headers: HTTPFields
    /// Close the connection once the answer is on its way, instead of draining the rest of the body.
    var closesConnection: Bool

    init(_ code: Code, _ message: String, headers: HTTPFields = [:], closesConnection: Bool = false) {
        self.code = code
        self.message = message
        self.headers = headers
        self.closesConnection = closesConnection
    }

    init(_ error: WireError) {
        self.init(Code(error.code), error.message)
    }

    /// The status to answer with (a relayed code's status is the caller's).
    var status: HTTPResponse.Status { HTTPResponse.Status(code: code.status ?? 502) }

    static func retryAfter(_ seconds: Int) -> HTTPFields {
        var headers = HTTPFields()
        headers[.retryAfter] = String(seconds)
        return headers
    }
}
