import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL

/// GETs from Segment's CDN (`browser.cdn_url`), on AsyncHTTPClient.
///
/// Why not the upstream's own client (``UpstreamClient``): it is built narrow for the forwarding hot path
/// (one POST, an answer capped at 64 KiB, only `Retry-After` and `X-RateLimit-Reset` read). The CDN path
/// needs GETs, whole bodies of hundreds of KiB and the caching headers, and runs once per asset per cache
/// period; the project's rule keeps such off-path traffic on AHC. Trust roots are the upstream's
/// (`upstream.ca_file` added to the system's), TLS 1.2 at least, redirects never followed, and bodies
/// are taken as the CDN sends them (gzip asked for and kept compressed: no decompression here).
final class CDNClient: Sendable {
    /// What the CDN answered.
    enum Answer: Sendable {
        case replied(status: Int, headers: HTTPHeaders, body: ByteBuffer)
        /// No answer: no connection, a timeout, a body over the cap; `reason` is for logs.
        case failed(reason: String)
    }

    private let client: HTTPClient
    private let endpoint: UpstreamEndpoint
    private let timeout: TimeAmount
    private let maxBodyBytes: Int

    /// - Throws: a ``ConfigurationError`` for a bad `browser.cdn_url` or unreadable `upstream.ca_file`.
    init(cdnURL: String, caFile: String, timeoutSeconds: Double, maxBodyBytes: Int) throws(ConfigurationError) {
        guard let endpoint = UpstreamEndpoint(url: cdnURL) else {
            throw ConfigurationError(key: "browser.cdn_url", "must be http(s)://host[:port], got '\(cdnURL)'")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if !caFile.isEmpty {
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caFile))]
            } catch {
                throw ConfigurationError(key: "upstream.ca_file", "cannot read a PEM certificate from '\(caFile)': \(error)")
            }
        }
        let configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(3)),
            connectionPool: .init(idleTimeout: .seconds(60)),
            decompression: .disabled)
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.endpoint = endpoint
        self.timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        self.maxBodyBytes = maxBodyBytes
    }

    /// The CDN's base URL, for the log at start.
    var base: String { endpoint.base }

    /// `GET {cdn}{path}` asking for gzip, with `If-None-Match: validator` when there is one. Never throws.
    func get(path: String, validator: String?) async -> Answer {
        var request = HTTPClientRequest(url: endpoint.base + path)
        request.method = .GET
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        request.headers.add(name: "User-Agent", value: "consentgate/\(BuildInfo.version)")
        if let validator { request.headers.add(name: "If-None-Match", value: validator) }
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: maxBodyBytes)
            return .replied(status: Int(response.status.code), headers: response.headers, body: body)
        } catch {
            return .failed(reason: "\(type(of: error))")
        }
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
