import HTTPTypes
import Hummingbird
import SegmentWire

/// What every step needs of a request's head, read once: the route, the headers consentgate reads,
/// the request id, and the headers every answer carries (CORS and `X-Request-Id`).
struct IngressRequest {
    var route: TrackingRoute?
    var method: HTTPRequest.Method
    var path: String
    var fields: TrackingHeaders
    var requestId: String
    var headers: HTTPFields

    init(_ request: Request, cors: CORS) {
        route = TrackingRoute(path: request.uri.path)
        method = request.method
        path = request.uri.path
        fields = TrackingHeaders(request.headers)
        requestId = RequestID.next()
        headers = cors.responseHeaders(origin: fields.origin)
        headers[RequestID.header] = requestId
    }
}

/// A tracking request the head step accepted: a POST to a tracking route in a coding consentgate reads.
struct AcceptedRequest {
    var route: TrackingRoute
    var coding: ContentCoding
    var authorization: WriteKey.Header
    var incoming: IngressRequest

    var path: String { incoming.path }
    var fields: TrackingHeaders { incoming.fields }
    var requestId: String { incoming.requestId }
    /// CORS and `X-Request-Id`, for every answer.
    var headers: HTTPFields { incoming.headers }
}

extension IngressResponder {
    /// What the head step decided.
    enum Acceptance {
        /// A CORS preflight, answered at once.
        case preflight(Response)
        /// First-party analytics.js (`browser.api_host` set): its CDN routes and its telemetry.
        case browser(BrowserRequest)
        case tracking(AcceptedRequest)
    }

    /// The head: method and route, `Content-Encoding`, `Authorization`.
    func accept(_ request: Request, _ incoming: IngressRequest) throws(IngressRefusal) -> Acceptance {
        if let browserRequest = try acceptBrowser(incoming) { return browserRequest }
        let route = incoming.route
        switch incoming.method {
        case .post:
            break
        case .options where route != nil:
            let headers = settings.cors.preflightHeaders(
                origin: incoming.fields.origin, requestedHeaders: incoming.fields.accessControlRequestHeaders)
            return .preflight(Response(status: .noContent, headers: headers))
        default:
            guard route != nil else { throw Self.notFound }
            var allow = HTTPFields()
            allow[.allow] = "POST, OPTIONS"
            throw IngressRefusal(
                .methodNotAllowed, "\(incoming.method.rawValue) is not allowed here; the tracking API takes POST", headers: allow)
        }
        guard let route else { throw Self.notFound }
        guard let coding = ContentCoding(headerValue: incoming.fields.contentEncoding ?? "") else {
            throw IngressRefusal(.unsupportedEncoding, "Content-Encoding must be gzip, deflate or identity")
        }
        let authorization = writeKeys.parse(authorization: incoming.fields.authorization)
        if authorization == .malformed {
            throw IngressRefusal(.invalidAuthorization, "the Basic credential is not base64 of 'writeKey:'")
        }
        return .tracking(AcceptedRequest(route: route, coding: coding, authorization: authorization, incoming: incoming))
    }

    private static var notFound: IngressRefusal {
        IngressRefusal(.notFound, "no tracking API route at this path; use /v1/{identify,track,page,screen,group,alias,batch,import}")
    }
}
