import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// What the upstream did with one forwarded request.
enum ForwardOutcome: Sendable {
    /// The upstream answered; its body was read (up to a small cap) so the connection returns to the pool.
    case replied(status: Int, retryAfter: String?, rateLimitReset: String?, body: ByteBuffer)
    /// No answer within `upstream.timeout_seconds`.
    case timedOut
    /// No connection, or it broke before an answer; `reason` is for logs.
    case failed(reason: String)
}

extension ForwardOutcome {
    /// A bounded label: `2xx`, `4xx`, `5xx`, `timeout` or `error`.
    var statusClass: String {
        switch self {
        case .replied(let status, _, _, _) where (200..<300).contains(status): "2xx"
        case .replied(let status, _, _, _) where (400..<500).contains(status): "4xx"
        case .replied(let status, _, _, _) where status >= 500: "5xx"
        case .replied: "error"
        case .timedOut: "timeout"
        case .failed: "error"
        }
    }
}

/// The headers of an ingress request that travel upstream.
struct ForwardedHeaders: Sendable {
    var authorization: String?
    var contentType: String?
    var userAgent: String?
    /// `gzip` when the forwarded body is gzip, `nil` for identity.
    var contentEncoding: String?
    /// `X-Forwarded-For`: the client's address, as Segment's edge would have seen it without consentgate in
    /// between (a spooled batch carries its own, see `SpooledBatch.forwardedFor`); `nil` for none.
    var forwardedFor: String? = nil
}

/// The one long-lived client to Segment: pooled keep-alive HTTP/1.1 connections per event loop, TLS 1.2
/// minimum, redirects never followed (a 30x must never replay a POST somewhere else).
final class UpstreamForwarder: Sendable {
    private let client: UpstreamClient
    private let endpoint: UpstreamEndpoint
    private let hostHeader: String

    /// Whether the client still forwards (false once shutdown began).
    var isOpen: Bool { client.isOpen }

    init(configuration: GatewayConfiguration.Upstream, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        throws(ConfigurationError)
    {
        guard let endpoint = UpstreamEndpoint(url: configuration.url) else {
            throw ConfigurationError(key: "upstream.url", "must be http(s)://host[:port], got '\(configuration.url)'")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        // Shutdown waits for each connection's TLS close; a busy or silent peer must not hold it for 5 s.
        tls.shutdownTimeout = .seconds(1)
        if !configuration.caFile.isEmpty {
            do {
                let roots = try NIOSSLCertificate.fromPEMFile(configuration.caFile)
                tls.additionalTrustRoots = [.certificates(roots)]
            } catch {
                throw ConfigurationError(key: "upstream.ca_file", "cannot read a PEM certificate from '\(configuration.caFile)': \(error)")
            }
        }
        let clientConfiguration = UpstreamClient.Configuration(
            endpoint: endpoint,
            tls: tls,
            connectTimeout: .milliseconds(Int64(min(configuration.connectTimeoutSeconds, configuration.timeoutSeconds) * 1000)),
            requestTimeout: .milliseconds(Int64(configuration.timeoutSeconds * 1000)),
            maxConnections: configuration.maxConnections
        )
        do {
            self.client = try UpstreamClient(configuration: clientConfiguration, eventLoopGroup: eventLoopGroup)
        } catch {
            throw ConfigurationError(key: "upstream.ca_file", "cannot make a TLS context: \(error)")
        }
        self.endpoint = endpoint
        self.hostHeader = endpoint.hostHeader
    }

    /// The upstream host, for logs at start.
    var upstreamDescription: String { endpoint.base }

    /// Posts `body` to the upstream at `path` and reports what happened. Never throws: every failure
    /// becomes an outcome the ingress can relay so the SDK retries.
    /// - Parameter eventLoop: the ingress connection's loop, whose connection pool carries the request
    ///   (no hop to another thread); `nil` for any loop.
    func forward(path: String, headers: ForwardedHeaders, body: ByteBuffer, on eventLoop: (any EventLoop)? = nil) async -> ForwardOutcome {
        let request = UpstreamRequest.post(path: path, host: hostHeader, body: body) { fields in
            if let value = headers.authorization { fields.add(name: "Authorization", value: value) }
            fields.add(name: "Content-Type", value: headers.contentType ?? "application/json")
            if let value = headers.userAgent { fields.add(name: "User-Agent", value: value) }
            if let value = headers.contentEncoding { fields.add(name: "Content-Encoding", value: value) }
            if let value = headers.forwardedFor { fields.add(name: "X-Forwarded-For", value: value) }
        }
        do {
            let response = try await client.execute(request, on: eventLoop)
            return .replied(status: response.status, retryAfter: response.retryAfter, rateLimitReset: response.rateLimitReset, body: response.body)
        } catch {
            return error.isTimeout ? .timedOut : .failed(reason: error.description)
        }
    }

    /// Closes pooled connections; later forwards fail at once. Call once, after the last forward.
    func shutdown() async {
        await client.shutdown()
    }
}
