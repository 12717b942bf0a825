import HTTPTypes
import Hummingbird
import NIOCore

/// Turns what the upstream did into the answer the SDK gets, so it retries exactly when it should:
/// 2xx → 200 `{"success":true}`; 429 → 429 with `Retry-After` and `X-RateLimit-Reset` passed on;
/// 5xx or a broken connection → 502, a timeout → 503, both with `Retry-After`; other 4xx relayed as they are.
enum UpstreamRelay {
    static func response(for outcome: ForwardOutcome, retryAfterSeconds: Int, headers base: HTTPFields) -> Response {
        var headers = base
        switch outcome {
        case .replied(let status, _, _, _) where (200..<300).contains(status):
            return GatewayResponse.success(headers: headers)
        case .replied(429, let retryAfter, let reset, _):
            headers[.retryAfter] = retryAfter ?? String(retryAfterSeconds)
            if let reset { headers[HTTPField.Name("X-RateLimit-Reset")!] = reset }
            return GatewayResponse.error(.tooManyRequests, code: IngressRefusal.Code.rateLimited.rawValue, message: "Segment is rate limiting; retry after the Retry-After delay", headers: headers)
        case .replied(let status, let retryAfter, _, _) where status >= 500:
            headers[.retryAfter] = retryAfter ?? String(retryAfterSeconds)
            return GatewayResponse.error(.badGateway, code: IngressRefusal.Code.upstreamError.rawValue, message: "Segment answered \(status); retry later", headers: headers)
        case .replied(let status, _, _, let body) where (400..<500).contains(status):
            // Segment's own verdict on the request (e.g. 400 for a body it refuses): not retryable, relay it.
            headers[.contentType] = "application/json"
            if body.readableBytes > 0 {
                return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: body))
            }
            return GatewayResponse.error(.init(code: status), code: IngressRefusal.Code.upstreamRejected.rawValue, message: "Segment answered \(status)", headers: headers)
        case .replied(let status, _, _, _):
            headers[.retryAfter] = String(retryAfterSeconds)
            return GatewayResponse.error(.badGateway, code: IngressRefusal.Code.upstreamError.rawValue, message: "Segment answered an unexpected \(status); retry later", headers: headers)
        case .timedOut:
            headers[.retryAfter] = String(retryAfterSeconds)
            return GatewayResponse.error(.serviceUnavailable, code: IngressRefusal.Code.upstreamTimeout.rawValue, message: "Segment did not answer in time; retry later", headers: headers)
        case .failed:
            headers[.retryAfter] = String(retryAfterSeconds)
            return GatewayResponse.error(.badGateway, code: IngressRefusal.Code.upstreamUnreachable.rawValue, message: "Segment could not be reached; retry later", headers: headers)
        }
    }
}
