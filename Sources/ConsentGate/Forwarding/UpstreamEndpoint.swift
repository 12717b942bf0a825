import NIOCore

/// The parsed `upstream.url`: where forwarded requests go.
struct UpstreamEndpoint: Sendable, Hashable {
    var scheme: String
    var host: String
    var port: Int?

    /// Accepts `http(s)://host[:port]` with an optional trailing slash and nothing else.
    init?(url: String) {
        let scheme: String
        var rest: Substring
        if url.hasPrefix("https://") {
            scheme = "https"
            rest = url.dropFirst(8)
        } else if url.hasPrefix("http://") {
            scheme = "http"
            rest = url.dropFirst(7)
        } else {
            return nil
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains(where: { "/?#@ ".contains($0) }) else { return nil }
        var host = rest
        var port: Int?
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let parsed = Int(rest[rest.index(after: colon)...]), (1...65535).contains(parsed) else { return nil }
            port = parsed
            host = rest[..<colon]
        }
        guard !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
    }

    /// The base every request path is appended to.
    var base: String {
        if let port { return "\(scheme)://\(host):\(port)" }
        return "\(scheme)://\(host)"
    }
}

extension UpstreamEndpoint {
    /// The host to connect to: without the brackets of an IPv6 literal.
    var connectHost: String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// The port to connect to: the URL's, else the scheme's default.
    var connectPort: Int { port ?? (isTLS ? 443 : 80) }

    /// Whether requests go over TLS (`https`).
    var isTLS: Bool { scheme == "https" }

    /// The `Host` header: the host, and the port when the URL names one.
    var hostHeader: String {
        if let port { return "\(host):\(port)" }
        return host
    }

    /// The name to send in SNI and to verify the certificate against; `nil` for an IP address, which
    /// SNI cannot carry (the certificate is then verified against the address).
    var serverName: String? {
        let name = connectHost
        return (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
    }
}
