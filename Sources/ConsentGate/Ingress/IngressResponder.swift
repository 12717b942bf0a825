import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SegmentWire

/// The one route of the ingress listener: every tracking API path walks this function once,
/// left to right — route, auth, body, decode, enforce, encode, forward, relay.
struct IngressResponder: HTTPResponder {
    typealias Context = IngressContext

    struct Settings: Sendable {
        var limits: WireLimits
        var maxBodyBytes: Int
        var writeKeys: Set<String>
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
    }

    let settings: Settings
    let scanner: BatchScanner
    let enforcer: ConsentEnforcer
    let forwarder: UpstreamForwarder
    let metrics: GatewayMetrics
    let feed: DecisionFeed
    private let upstreamWarning: RateLimitedWarning
    private let inflight = InflightLimit()
    private let writeKeys = WriteKey.Memo()

    init(
        settings: Settings, enforcer: ConsentEnforcer, forwarder: UpstreamForwarder, metrics: GatewayMetrics, feed: DecisionFeed,
        logger: Logger
    ) {
        self.settings = settings
        self.scanner = BatchScanner(limits: settings.limits)
        self.enforcer = enforcer
        self.forwarder = forwarder
        self.metrics = metrics
        self.feed = feed
        self.upstreamWarning = RateLimitedWarning("upstream exchange failed: clients were told to retry", logger: logger)
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let route = TrackingRoute(path: request.uri.path)
        let fields = TrackingHeaders(request.headers)
        guard inflight.enter(limit: settings.maxInflightRequests) else {
            metrics.request(route: route, status: 503)
            var headers = settings.cors.responseHeaders(origin: fields.origin)
            headers[.retryAfter] = "1"
            return GatewayResponse.error(
                .serviceUnavailable, code: "overloaded", message: "too many requests in flight; retry after the Retry-After delay",
                headers: headers)
        }
        metrics.requestStarted()
        defer {
            metrics.requestFinished()
            inflight.leave()
        }
        do {
            let response = try await handle(request, fields: fields, route: route, channel: context.channel)
            metrics.request(route: route, status: response.status.code)
            return response
        } catch {
            metrics.request(route: route, status: 500)
            throw error
        }
    }

    private func handle(_ request: Request, fields: TrackingHeaders, route: TrackingRoute?, channel: any Channel) async throws -> Response {
        let origin = fields.origin
        let requestId = RequestID.next()
        var corsHeaders = settings.cors.responseHeaders(origin: origin)
        corsHeaders[RequestID.header] = requestId

        switch request.method {
        case .post:
            break
        case .options where route != nil:
            let headers = settings.cors.preflightHeaders(
                origin: origin, requestedHeaders: fields.accessControlRequestHeaders)
            return Response(status: .noContent, headers: headers)
        default:
            guard route != nil else { return notFound(request, corsHeaders) }
            var headers = corsHeaders
            headers[.allow] = "POST, OPTIONS"
            return GatewayResponse.error(
                .methodNotAllowed, code: "method_not_allowed",
                message: "\(request.method.rawValue) is not allowed here; the tracking API takes POST", headers: headers)
        }
        guard let route else { return notFound(request, corsHeaders) }

        guard let coding = ContentCoding(headerValue: fields.contentEncoding ?? "") else {
            return GatewayResponse.error(
                .unsupportedMediaType, code: "unsupported_encoding",
                message: "Content-Encoding must be gzip, deflate or identity", headers: corsHeaders)
        }
        let authorization = writeKeys.parse(authorization: fields.authorization)
        if authorization == .malformed {
            return GatewayResponse.error(
                .unauthorized, code: "invalid_authorization",
                message: "the Basic credential is not base64 of 'writeKey:'", headers: corsHeaders)
        }

        // Read the body under the hard cap, then inflate under the same cap.
        let wire: ByteBuffer
        do {
            wire = try await BodyReader.collect(
                request.body, upTo: settings.maxBodyBytes, within: settings.bodyTimeout, linger: settings.oversizedBodyLinger,
                on: channel.eventLoop)
        } catch let tooLarge as BodyReader.TooLarge {
            var headers = corsHeaders
            if !tooLarge.finished {
                // Still sending after the linger: Hummingbird would drain the rest, however long, for
                // keep-alive. Close the connection instead, as for a trickled body.
                headers[.connection] = "close"
                channel.eventLoop.scheduleTask(in: .milliseconds(200)) { channel.close(promise: nil) }
            }
            return GatewayResponse.error(
                .contentTooLarge, code: "payload_too_large",
                message: "the request body is larger than \(settings.maxBodyBytes) bytes", headers: headers)
        } catch is BodyReader.Timeout {
            var headers = corsHeaders
            headers[.connection] = "close"
            // Hummingbird would drain the rest of the body for keep-alive; a trickling client must not
            // keep its connection that way. Close it once the 408 is on its way.
            channel.eventLoop.scheduleTask(in: .milliseconds(200)) { channel.close(promise: nil) }
            return GatewayResponse.error(
                .requestTimeout, code: "body_timeout",
                message: "the request body did not arrive within \(settings.bodyTimeout)", headers: headers)
        }
        metrics.body(bytes: wire.readableBytes)
        let body: RequestBytes
        do throws(WireError) {
            body = try decode(wire, coding: coding)
        } catch {
            return GatewayResponse.error(error, headers: corsHeaders)
        }

        // Scan once; read what enforcement needs while the bytes are at hand.
        let scanned: ScannedRequest
        let subjects: [EventSubject?]
        var bodyWriteKey: String?
        do throws(WireError) {
            (scanned, subjects, bodyWriteKey) = try body.withBytes { (bytes) throws(WireError) in
                let scanned = try scanner.scan(bytes, route: route)
                let key = settings.writeKeys.isEmpty ? nil : scanned.writeKey.map { JSONString.decode($0, in: bytes) }
                return (scanned, EventSubject.extract(from: scanned, body: bytes), key)
            }
        } catch {
            return GatewayResponse.error(error, headers: corsHeaders)
        }

        if !settings.writeKeys.isEmpty {
            let key: String?
            if case .basic(let basic) = authorization { key = basic } else { key = bodyWriteKey }
            guard let key, settings.writeKeys.contains(key) else {
                return GatewayResponse.error(
                    .unauthorized, code: key == nil ? "missing_write_key" : "unknown_write_key",
                    message: key == nil
                        ? "a write key is required: Authorization: Basic base64(writeKey:) or writeKey in the body"
                        : "the write key is not allowed on this gateway",
                    headers: corsHeaders)
            }
        }

        let enforcement = await enforcer.enforce(scanned, subjects: subjects, body: body, gpc: fields.gpc, requestId: requestId)
        if enforcement.rejected {
            var headers = corsHeaders
            headers[.retryAfter] = String(settings.retryAfterSeconds)
            return GatewayResponse.error(
                .serviceUnavailable, code: "consent_unverifiable",
                message: "consent could not be verified for every event; nothing was forwarded, retry later",
                headers: headers)
        }

        let forwarded: ByteBuffer
        var contentEncoding = fields.contentEncoding
        if enforcement.edits.allSatisfy({ $0 == .keep }) {
            forwarded = wire  // nothing changed: the original bytes, compression and all
        } else {
            let encoded = body.withBytes { bytes in
                BatchEncoder.encode(body: bytes, request: scanned, edits: enforcement.edits)
            }
            guard let encoded else { return GatewayResponse.success(headers: corsHeaders) }  // everything dropped
            if coding == .identity {
                forwarded = ByteBuffer(bytes: encoded)
                contentEncoding = nil
            } else {
                forwarded = encoded.withUnsafeBytes { ByteBuffer(bytes: Gzip.compress($0, level: settings.gzipLevel, using: settings.deflateLibrary)) }
                contentEncoding = "gzip"
            }
        }

        let started = ContinuousClock.now
        let outcome = await forwarder.forward(
            path: request.uri.path,
            headers: ForwardedHeaders(
                authorization: fields.authorization,
                contentType: fields.contentType,
                userAgent: fields.userAgent,
                contentEncoding: contentEncoding
            ),
            body: forwarded,
            on: channel.eventLoop
        )
        let statusClass = outcome.statusClass
        metrics.upstream(statusClass: statusClass, duration: ContinuousClock.now - started)
        feed.upstream(statusClass)
        switch outcome {
        case .timedOut: upstreamWarning.emit(["reason": "timeout"])
        case .failed(let reason): upstreamWarning.emit(["reason": "\(reason)"])
        case .replied(let status, _, _, _) where status >= 500: upstreamWarning.emit(["status": "\(status)"])
        default: break
        }
        return UpstreamRelay.response(for: outcome, retryAfterSeconds: settings.retryAfterSeconds, headers: corsHeaders)
    }

    private func decode(_ wire: ByteBuffer, coding: ContentCoding) throws(WireError) -> RequestBytes {
        if coding == .identity { return .wire(wire) }
        let result: Result<[UInt8], WireError> = wire.withUnsafeReadableBytes { pointer in
            do throws(WireError) {
                return .success(try Inflater.inflate(pointer, coding: coding, limit: settings.maxBodyBytes, using: settings.deflateLibrary))
            } catch {
                return .failure(error)
            }
        }
        return .inflated(try result.get())
    }

    private func notFound(_ request: Request, _ headers: HTTPFields) -> Response {
        GatewayResponse.error(
            .notFound, code: "not_found",
            message: "no tracking API route at this path; use /v1/{identify,track,page,screen,group,alias,batch,import}",
            headers: headers)
    }
}
