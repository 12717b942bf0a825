import NIOCore
import NIOHTTP1

/// One request to the upstream, ready to write: its head (Host and Content-Length included) and body.
struct UpstreamRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
}

/// What the upstream answered: the status, the two headers the ingress relays, and the body read up
/// to a cap (the rest was read and dropped so the connection stays reusable).
struct UpstreamResponse: Sendable, Equatable {
    var status: Int
    var retryAfter: String?
    var rateLimitReset: String?
    var body: ByteBuffer
}

extension UpstreamRequest {
    /// A POST of `body` to `path` with `Host` (see ``UpstreamEndpoint/hostHeader``, made once by the
    /// caller) and `Content-Length`, and the headers `fill` adds.
    static func post(path: String, host: String, body: ByteBuffer, headers fill: (inout HTTPHeaders) -> Void) -> UpstreamRequest {
        var headers = HTTPHeaders()
        headers.reserveCapacity(7)
        headers.add(name: "Host", value: host)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        fill(&headers)
        return UpstreamRequest(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers), body: body)
    }
}
