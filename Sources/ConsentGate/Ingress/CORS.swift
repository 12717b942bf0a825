import HTTPTypes

/// CORS for browser sources (analytics.js posts `text/plain` to avoid preflight, but other setups preflight).
struct CORS: Sendable {
    let allowedOrigins: [String]

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, or `nil` when not allowed.
    func allowOrigin(for origin: String?) -> String? {
        guard let origin else { return nil }
        if allowedOrigins.contains("*") || allowedOrigins.contains(origin) { return origin }
        return nil
    }

    /// Headers added to every response of a request that carries an allowed `Origin`.
    func responseHeaders(origin: String?) -> HTTPFields {
        guard let allowed = allowOrigin(for: origin) else { return [:] }
        var headers = HTTPFields()
        headers[.accessControlAllowOrigin] = allowed
        headers[.vary] = "Origin"
        return headers
    }

    /// The answer to an `OPTIONS` preflight.
    func preflightHeaders(origin: String?, requestedHeaders: String?) -> HTTPFields {
        var headers = responseHeaders(origin: origin)
        guard !headers.isEmpty else { return headers }
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = requestedHeaders ?? "Content-Type, Authorization, Content-Encoding"
        headers[.accessControlMaxAge] = "86400"
        return headers
    }
}
