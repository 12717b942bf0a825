import NIOCore
import NIOSSL

extension UpstreamClient {
    /// How the client reaches its one upstream.
    struct Configuration: Sendable {
        /// Where requests go; `https` connects with ``tls``.
        var endpoint: UpstreamEndpoint
        /// The client TLS settings for `https` (trust roots, minimum version). SNI and hostname
        /// verification use the endpoint's host.
        var tls: TLSConfiguration
        /// Bound on TCP connect and TLS handshake together.
        var connectTimeout: TimeAmount
        /// Bound on one request, from the call to the whole answer (waiting for a connection included).
        var requestTimeout: TimeAmount
        /// Connections to the upstream at most, shared evenly by the event loops (rounded up).
        var maxConnections: Int
        /// A connection idle this long is closed.
        var idleTimeout: TimeAmount
        /// Bytes of an answer's body kept; the rest is read and dropped.
        var maxResponseBodyBytes: Int

        init(
            endpoint: UpstreamEndpoint,
            tls: TLSConfiguration = .makeClientConfiguration(),
            connectTimeout: TimeAmount = .seconds(3),
            requestTimeout: TimeAmount = .seconds(10),
            maxConnections: Int = 64,
            idleTimeout: TimeAmount = .seconds(60),
            maxResponseBodyBytes: Int = 64 * 1024
        ) {
            self.endpoint = endpoint
            self.tls = tls
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
            self.maxResponseBodyBytes = maxResponseBodyBytes
        }
    }
}
