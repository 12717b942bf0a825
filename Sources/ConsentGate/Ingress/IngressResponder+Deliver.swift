import Hummingbird
import NIOCore
import Spool

extension IngressResponder {
    /// The last step, by `delivery.mode`: relay (forward and relay Segment's answer, ``forward(_:_:_:channel:)``
    /// unchanged) or spool (``spool(_:_:_:into:)``: 200 once the bytes are durable).
    func deliver(_ outgoing: consuming OutgoingRequest, _ source: IngressSources.Entry, _ accepted: AcceptedRequest, channel: any Channel)
        async throws(IngressRefusal) -> Response
    {
        guard let spoolLog else { return await forward(outgoing, source, accepted, channel: channel) }
        return try await spool(consume outgoing, source, accepted, into: spoolLog)
    }

    /// Appends the bytes to forward and what their forward needs to the spool, and answers as a relayed
    /// 200 does once the group commit has made them durable. Fails closed: a spool that cannot take the
    /// batch is a 503 the SDK retries, never a 200. The outgoing bytes are freed once copied, before the
    /// wait for the commit (see ``prepare(_:_:channel:)``).
    func spool(_ outgoing: consuming OutgoingRequest, _ source: IngressSources.Entry, _ accepted: AcceptedRequest, into log: SpoolLog)
        async throws(IngressRefusal) -> Response
    {
        let fields = accepted.fields
        let batch = SpooledBatch(
            source: source.name == sources.defaultEntry.name ? SpoolDeliverer.defaultSourceName : source.name,
            path: accepted.path,
            authorization: fields.authorization,
            contentType: fields.contentType,
            userAgent: fields.userAgent,
            contentEncoding: outgoing.contentEncoding,
            forwardedFor: outgoing.forwardedFor,
            acceptedAtMilliseconds: WallClock.milliseconds(),
            body: Array(buffer: outgoing.body)
        )
        _ = consume outgoing
        do {
            _ = try await log.append(batch)
        } catch {
            switch error.code {
            case .full:
                throw IngressRefusal(
                    .spoolFull, "the spool is full while Segment is slow or down; retry after the Retry-After delay",
                    headers: IngressRefusal.retryAfter(settings.retryAfterSeconds))
            default:
                spoolWarning.emit([
                    LogKey.reason: "\(error.code.rawValue)", LogKey.requestId: "\(accepted.requestId)", LogKey.source: "\(source.name)",
                ])
                throw IngressRefusal(
                    .spoolUnavailable, "the batch could not be made durable; retry after the Retry-After delay",
                    headers: IngressRefusal.retryAfter(settings.retryAfterSeconds))
            }
        }
        return GatewayResponse.success(headers: accepted.headers)
    }
}
