import ClientAddress
import Hummingbird
import NIOCore
import SegmentWire

/// The bytes that go upstream and their coding.
struct OutgoingRequest {
    var body: ByteBuffer
    /// `Content-Encoding` to send; `nil` for identity.
    var contentEncoding: String?
    /// `X-Forwarded-For` to send: the client's address as `privacy.ip` lets it leave; `nil` for none.
    var forwardedFor: String?
}

extension IngressResponder {
    /// The bytes to forward: the original ones, compression and all, when neither enforcement nor the
    /// client's address changed anything; else the batch re-encoded from slices of the original (gzipped
    /// again if it came compressed). `nil` when every event was dropped.
    func encode(_ parsed: ParsedRequest, _ enforcement: Enforcement, _ client: IPAddress?, _ accepted: AcceptedRequest) -> OutgoingRequest? {
        let policy = settings.addressPolicy
        let forwardedFor = client.flatMap(policy.forwarded)?.description
        let plan = parsed.body.withBytes { policy.plan(parsed.scanned, body: $0, leaving: forwardedFor) }
        if enforcement.keepsEverything && plan == nil {
            return OutgoingRequest(body: parsed.wire, contentEncoding: accepted.fields.contentEncoding, forwardedFor: forwardedFor)
        }
        var edits = enforcement.edits
        if let plan {
            for index in plan.unsafe where index < edits.count { edits[index] = .drop }
            metrics.addressEdits(AddressEditCounts(plan, request: parsed.scanned, edits: edits))
        }
        let encoded = parsed.body.withBytes { bytes in
            BatchEncoder.encode(
                body: bytes, request: parsed.scanned, edits: edits, removeSharedStamp: enforcement.removeSharedStamp,
                addresses: plan?.events ?? [], envelopeAddress: plan?.envelope ?? .keep)
        }
        guard let encoded else { return nil }
        if accepted.coding == .identity {
            return OutgoingRequest(body: ByteBuffer(bytes: encoded), contentEncoding: nil, forwardedFor: forwardedFor)
        }
        let gzipped = encoded.withUnsafeBytes { ByteBuffer(bytes: Gzip.compress($0, level: settings.gzipLevel, using: settings.deflateLibrary)) }
        return OutgoingRequest(body: gzipped, contentEncoding: "gzip", forwardedFor: forwardedFor)
    }

    /// Forwards to the source's upstream on the request's own event loop and relays the answer, so the
    /// SDK retries exactly when it should.
    func forward(_ outgoing: OutgoingRequest, _ source: IngressSources.Entry, _ accepted: AcceptedRequest, channel: any Channel) async -> Response {
        let fields = accepted.fields
        let started = ContinuousClock.now
        let outcome = await source.route.forwarder.forward(
            path: accepted.path,
            headers: ForwardedHeaders(
                authorization: fields.authorization, contentType: fields.contentType, userAgent: fields.userAgent,
                contentEncoding: outgoing.contentEncoding, forwardedFor: outgoing.forwardedFor),
            body: outgoing.body,
            on: channel.eventLoop
        )
        let statusClass = outcome.statusClass
        metrics.upstream(statusClass: statusClass, duration: ContinuousClock.now - started)
        feed.upstream(statusClass)
        switch outcome {
        case .timedOut:
            upstreamWarning.emit([LogKey.reason: "timeout", LogKey.requestId: "\(accepted.requestId)", LogKey.source: "\(source.name)"])
        case .failed(let reason):
            upstreamWarning.emit([LogKey.reason: "\(reason)", LogKey.requestId: "\(accepted.requestId)", LogKey.source: "\(source.name)"])
        case .replied(let status, _, _, _) where status >= 500:
            upstreamWarning.emit([LogKey.status: "\(status)", LogKey.requestId: "\(accepted.requestId)", LogKey.source: "\(source.name)"])
        default: break
        }
        return UpstreamRelay.response(for: outcome, retryAfterSeconds: settings.retryAfterSeconds, headers: accepted.headers)
    }
}
