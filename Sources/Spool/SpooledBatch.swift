/// One accepted request's bytes to forward, and what the forward needs.
public struct SpooledBatch: Sendable, Equatable {
    /// The source's name ("" for the top-level settings).
    public var source: String
    /// The tracking route path, e.g. "/v1/batch".
    public var path: String
    public var authorization: String?
    public var contentType: String?
    public var userAgent: String?
    /// "gzip" or nil.
    public var contentEncoding: String?
    /// The `X-Forwarded-For` to send upstream, nil for none.
    public var forwardedFor: String?
    /// Wall clock, Unix epoch milliseconds, when the request was acknowledged.
    public var acceptedAtMilliseconds: Int64
    public var body: [UInt8]

    public init(
        source: String,
        path: String,
        authorization: String?,
        contentType: String?,
        userAgent: String?,
        contentEncoding: String?,
        forwardedFor: String?,
        acceptedAtMilliseconds: Int64,
        body: [UInt8]
    ) {
        self.source = source
        self.path = path
        self.authorization = authorization
        self.contentType = contentType
        self.userAgent = userAgent
        self.contentEncoding = contentEncoding
        self.forwardedFor = forwardedFor
        self.acceptedAtMilliseconds = acceptedAtMilliseconds
        self.body = body
    }
}
