import HTTPTypes
import ClientAddress
import Hummingbird
import Logging
import NIOCore
import SegmentWire
import Spool

/// The one route of the ingress listener: every tracking API path walks ``handle(_:_:channel:)`` once,
/// left to right, as named steps — accept (route, method, coding, key); then, in ``prepare(_:_:channel:)``,
/// read the body, parse, select the source (the allowlist), enforce its policy, find the client's address,
/// encode (with `context.ip` filled or treated); then deliver (forward to its upstream and relay, or spool). A step that refuses
/// throws an ``IngressRefusal``; ``respond(to:context:)`` turns every refusal into its answer in one place.
/// With `browser.api_host` set, accept also recognizes first-party analytics.js's routes, which
/// ``serveBrowser(_:_:channel:)`` answers on their own.
struct IngressResponder: HTTPResponder {
    typealias Context = IngressContext

    struct Settings: Sendable {
        var limits: WireLimits
        var maxBodyBytes: Int
        var cors: CORS
        var retryAfterSeconds: Int
        /// `upstream.gzip_level`: for a gzip body re-encoded after enforcement changed it.
        var gzipLevel: Int32 = 1
        var bodyTimeout: Duration = .seconds(30)
        /// How long the rest of an oversized body is read and discarded before its connection closes.
        var oversizedBodyLinger: Duration = .seconds(5)
        var maxInflightRequests: Int = 1024
        /// `ingress.inflater`, resolved: the library that inflates bodies and re-gzips re-encoded batches.
        var deflateLibrary: DeflateLibrary = .preferred
        /// `ingress.trusted_proxies`.
        var trustedProxies = TrustedProxies()
        /// `ingress.client_ip.fill` and `privacy.ip`.
        var addressPolicy = AddressPolicy()
    }

    let settings: Settings
    let scanner: BatchScanner
    /// Every source's route by write key; the top-level settings for a key in no source.
    let sources: IngressSources
    let metrics: GatewayMetrics
    let feed: DecisionFeed
    let upstreamWarning: RateLimitedWarning
    /// `delivery.mode: spool`: the durable log accepted batches go to; `nil` relays (the default).
    let spoolLog: SpoolLog?
    let spoolWarning: RateLimitedWarning
    private let inflight = InflightLimit()
    let writeKeys = WriteKey.Memo()
    /// First-party analytics.js; `nil` while `browser.api_host` is empty (its routes then answer 404).
    let browser: BrowserAssets?

    init(
        settings: Settings, sources: IngressSources, metrics: GatewayMetrics, feed: DecisionFeed, logger: Logger,
        browser: BrowserAssets? = nil, spool: SpoolLog? = nil
    ) {
        self.browser = browser
        self.spoolLog = spool
        self.settings = settings
        self.scanner = BatchScanner(limits: settings.limits)
        self.sources = sources
        self.metrics = metrics
        self.feed = feed
        self.upstreamWarning = RateLimitedWarning("upstream exchange failed: clients were told to retry", logger: logger)
        self.spoolWarning = RateLimitedWarning("the spool could not take a batch: clients were told to retry", logger: logger)
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let incoming = IngressRequest(request, cors: settings.cors)
        guard inflight.enter(limit: settings.maxInflightRequests) else {
            let refusal = IngressRefusal(
                .overloaded, "too many requests in flight; retry after the Retry-After delay", headers: IngressRefusal.retryAfter(1))
            return answer(refusal, incoming, channel: context.channel)
        }
        metrics.requestStarted()
        defer {
            metrics.requestFinished()
            inflight.leave()
        }
        do {
            let response = try await handle(request, incoming, channel: context.channel)
            metrics.request(route: incoming.route, status: response.status.code)
            return response
        } catch let refusal as IngressRefusal {
            return answer(refusal, incoming, channel: context.channel)
        } catch {
            metrics.request(route: incoming.route, status: 500)
            throw error
        }
    }

    /// The request path, one named step a line.
    private func handle(_ request: Request, _ incoming: IngressRequest, channel: any Channel) async throws -> Response {
        let accepted: AcceptedRequest
        switch try accept(request, incoming) {
        case .preflight(let response): return response
        case .browser(let browserRequest): return try await serveBrowser(browserRequest, request, channel: channel)
        case .tracking(let tracking): accepted = tracking
        }
        guard let (outgoing, source) = try await prepare(request, accepted, channel: channel) else {
            return GatewayResponse.success(headers: accepted.headers)
        }
        return try await deliver(consume outgoing, source, accepted, channel: channel)
    }

    /// The steps between accepting and delivering: what leaves, and for which source; `nil` when every
    /// event was dropped. The body and all read from it are freed when it returns, on this event loop:
    /// a spooled request resumes on whichever loop its commit is answered on, and memory freed there
    /// contends for this loop's allocator arena.
    private func prepare(_ request: Request, _ accepted: AcceptedRequest, channel: any Channel) async throws
        -> (OutgoingRequest, IngressSources.Entry)?
    {
        let wire = try await readBody(request, accepted, channel: channel)
        let parsed = try parse(wire, accepted)
        let source = try selectSource(parsed, accepted)
        let enforcement = try await enforce(parsed, source, accepted)
        let client = clientAddress(accepted, channel: channel)
        guard let outgoing = encode(parsed, enforcement, client, accepted) else { return nil }
        return (outgoing, source)
    }

    /// The one place a refusal becomes a response: counted, with CORS, the request id and its own
    /// headers, and the connection closed when it asks for that.
    private func answer(_ refusal: IngressRefusal, _ incoming: IngressRequest, channel: any Channel) -> Response {
        var headers = incoming.headers
        headers.append(contentsOf: refusal.headers)
        if refusal.closesConnection {
            // Hummingbird would drain the rest of the body, however long, for keep-alive: close the
            // connection once the answer is on its way instead.
            headers[.connection] = "close"
            channel.eventLoop.scheduleTask(in: .milliseconds(200)) { channel.close(promise: nil) }
        }
        metrics.request(route: incoming.route, status: refusal.status.code)
        return GatewayResponse.error(refusal.status, code: refusal.code.rawValue, message: refusal.message, headers: headers)
    }
}
