/// Why the upstream client has no answer for a request.
struct UpstreamClientError: Error, Sendable, Hashable, CustomStringConvertible {
    struct Code: Sendable, Hashable, CustomStringConvertible {
        let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        var description: String { rawValue }

        /// No connection (TCP and TLS handshake) within the connect timeout.
        static let connectTimeout = Code("connect_timeout")
        /// No complete answer within the request's deadline (waiting for a connection included).
        static let deadlineExceeded = Code("deadline_exceeded")
        /// The connection could not be made: refused, unreachable, name not resolved.
        static let connectFailed = Code("connect_failed")
        /// The TLS handshake failed (untrusted certificate, wrong host name, protocol mismatch).
        static let tlsFailed = Code("tls_failed")
        /// The connection broke or was closed before the whole answer arrived.
        static let connectionClosed = Code("connection_closed")
        /// A reused keep-alive connection turned out closed by the server before any byte of the answer:
        /// the classic race of a pooled connection, which the pool retries once on a fresh connection.
        static let staleConnection = Code("stale_connection")
        /// The server's answer was not valid HTTP/1.1.
        static let invalidResponse = Code("invalid_response")
        /// The client was shut down.
        static let shutDown = Code("shut_down")
    }

    var code: Code
    /// What went wrong, for logs; never contains a payload.
    var reason: String

    init(_ code: Code, _ reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// Whether the request ran out of time (as opposed to failing).
    var isTimeout: Bool { code == .connectTimeout || code == .deadlineExceeded }

    var description: String { reason.isEmpty ? code.rawValue : "\(code.rawValue): \(reason)" }
}
