import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

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
}

/// One long-lived HTTP client to Segment: pooled keep-alive connections, TLS 1.2 minimum,
/// redirects off (a 30x must never replay a POST somewhere else).
final class UpstreamForwarder: Sendable {
    private let client: HTTPClient
    private let endpoint: UpstreamEndpoint
    private let timeout: TimeAmount
    private let closed = Atomic<Bool>(false)

    /// Whether the client still forwards (false once shutdown began).
    var isOpen: Bool { !closed.load(ordering: .relaxed) }

    init(configuration: GatewayConfiguration.Upstream, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
        throws(ConfigurationError)
    {
        guard let endpoint = UpstreamEndpoint(url: configuration.url) else {
            throw ConfigurationError(key: "upstream.url", "must be http(s)://host[:port], got '\(configuration.url)'")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if !configuration.caFile.isEmpty {
            do {
                let roots = try NIOSSLCertificate.fromPEMFile(configuration.caFile)
                tls.additionalTrustRoots = [.certificates(roots)]
            } catch {
                throw ConfigurationError(key: "upstream.ca_file", "cannot read a PEM certificate from '\(configuration.caFile)': \(error)")
            }
        }
        var clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(min(configuration.connectTimeoutSeconds, configuration.timeoutSeconds) * 1000))),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnections),
            decompression: .disabled
        )
        clientConfiguration.httpVersion = .http1Only
        self.client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: clientConfiguration)
        self.endpoint = endpoint
        self.timeout = .milliseconds(Int64(configuration.timeoutSeconds * 1000))
    }

    /// The upstream host, for logs at start.
    var upstreamDescription: String { endpoint.base }

    /// Posts `body` to the upstream at `path` and reports what happened. Never throws: every failure
    /// becomes an outcome the ingress can relay so the SDK retries.
    func forward(path: String, headers: ForwardedHeaders, body: ByteBuffer) async -> ForwardOutcome {
        var request = HTTPClientRequest(url: endpoint.base + path)
        request.method = .POST
        request.headers.reserveCapacity(5)
        if let value = headers.authorization { request.headers.add(name: "Authorization", value: value) }
        request.headers.add(name: "Content-Type", value: headers.contentType ?? "application/json")
        if let value = headers.userAgent { request.headers.add(name: "User-Agent", value: value) }
        if let value = headers.contentEncoding { request.headers.add(name: "Content-Encoding", value: value) }
        request.body = .bytes(body)
        do {
            let response = try await client.execute(request, timeout: timeout)
            // Drain the body so the connection goes back to the pool; keep a little for a 4xx relay.
            let body = try await response.body.collect(upTo: 64 * 1024)
            return .replied(
                status: Int(response.status.code),
                retryAfter: response.headers.first(name: "Retry-After"),
                rateLimitReset: response.headers.first(name: "X-RateLimit-Reset"),
                body: body
            )
        } catch let error as HTTPClientError where Self.isTimeout(error) {
            return .timedOut
        } catch {
            return .failed(reason: String(describing: error))
        }
    }

    private static func isTimeout(_ error: HTTPClientError) -> Bool {
        [.deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout]
            .contains(error)
    }

    /// Closes pooled connections. Call once, after the last forward.
    func shutdown() async {
        closed.store(true, ordering: .relaxed)
        try? await client.shutdown()
    }
}
