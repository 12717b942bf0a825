import HTTPTypes
import Hummingbird
import NIOCore

/// A first-party analytics.js request the head step accepted (only when `browser.api_host` is set).
struct BrowserRequest {
    var route: BrowserRoute
    var incoming: IngressRequest
}

extension IngressResponder {
    /// The head step for first-party analytics.js: `nil` when serving is off or the path is not one of its
    /// routes (the tracking path then decides, as before). `GET` for the CDN routes, `POST` for `/v1/m`,
    /// `OPTIONS` answered as a preflight; a route that names a write key takes the allowlist.
    func acceptBrowser(_ incoming: IngressRequest) throws(IngressRefusal) -> Acceptance? {
        // A tracking route is never one of these: SDK traffic pays one comparison and nothing more.
        guard browser != nil, incoming.route == nil, let route = BrowserRoute(path: incoming.path) else { return nil }
        let method: HTTPRequest.Method = route == .metrics ? .post : .get
        switch incoming.method {
        case method:
            break
        case .options:
            var headers = settings.cors.preflightHeaders(
                origin: incoming.fields.origin, requestedHeaders: incoming.fields.accessControlRequestHeaders)
            if !headers.isEmpty { headers[.accessControlAllowMethods] = "\(method.rawValue), OPTIONS" }
            return .preflight(Response(status: .noContent, headers: headers))
        default:
            var allow = HTTPFields()
            allow[.allow] = "\(method.rawValue), OPTIONS"
            throw IngressRefusal(.methodNotAllowed, "\(incoming.method.rawValue) is not allowed here; this path takes \(method.rawValue)", headers: allow)
        }
        if let key = route.writeKey, sources.checksWriteKeys, sources.allowedEntry(writeKey: key) == nil {
            throw IngressRefusal(.unknownWriteKey, "the write key is not allowed on this gateway")
        }
        return .browser(BrowserRequest(route: route, incoming: incoming))
    }

    /// Serves a first-party analytics.js request: a CDN asset from the cache (502 when the CDN fails and
    /// no copy is kept), or analytics.js's telemetry relayed upstream.
    func serveBrowser(_ asset: BrowserRequest, _ request: Request, channel: any Channel) async throws -> Response {
        guard let browser, let kind = asset.route.kind else { return try await relayTelemetry(asset, request, channel: channel) }
        let served = await browser.fetch(kind, path: asset.incoming.path)
        let response = browser.response(
            served, ifNoneMatch: request.headers[.ifNoneMatch], acceptEncoding: request.headers[.acceptEncoding],
            headers: asset.incoming.headers)
        guard let response else {
            throw IngressRefusal(.cdnUnavailable, "Segment's CDN could not be reached and no copy is cached; retry later")
        }
        return response
    }

    /// `POST /v1/m` (analytics.js's own metrics, no events): relayed to the default upstream unchanged.
    private func relayTelemetry(_ asset: BrowserRequest, _ request: Request, channel: any Channel) async throws -> Response {
        let body = try await collectBody(request, upTo: settings.limits.maxEventBytes, channel: channel)
        let fields = asset.incoming.fields
        let outcome = await sources.defaultEntry.route.forwarder.forward(
            path: "/v1/m",
            headers: ForwardedHeaders(
                authorization: fields.authorization, contentType: fields.contentType, userAgent: fields.userAgent,
                contentEncoding: fields.contentEncoding),
            body: body, on: channel.eventLoop)
        return UpstreamRelay.response(for: outcome, retryAfterSeconds: settings.retryAfterSeconds, headers: asset.incoming.headers)
    }
}
