/// Where the PostgreSQL store lives: `postgres://user:password@host:port/database?sslmode=prefer`
/// (`store.postgres.url`).
///
/// User, password and database are percent-decoded. The port defaults to 5432, the database to the
/// user's name. `sslmode` is `disable`, `prefer` (the default: TLS when the server offers it),
/// `require` or `verify-full`; both of the last two insist on TLS and verify the server's certificate
/// and host name (against the system's roots, plus `sslrootcert=FILE` when given). The password is a
/// secret: ``redacted`` shows everything else.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// `sslmode`.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable
        case prefer
        case require
        case verifyFull = "verify-full"
    }

    /// Why a URL could not be read. Never quotes the password.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    /// `sslrootcert`: a PEM file of extra trust roots.
    public var rootCertificatePath: String?

    public init(
        host: String, port: Int = 5432, username: String, password: String? = nil, database: String? = nil,
        tlsMode: TLSMode = .prefer, rootCertificatePath: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database ?? username
        self.tlsMode = tlsMode
        self.rootCertificatePath = rootCertificatePath
    }

    /// Reads `postgres://` or `postgresql://` URLs.
    public init(parsing text: String) throws(ParseError) {
        func fail(_ reason: String) -> ParseError { ParseError(reason: reason) }
        var rest = Substring(text)
        if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else {
            throw fail("must start with postgres:// or postgresql://")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.contains("#") { throw fail("must not have a fragment") }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        // The last "@" separates credentials from the host: a password may hold an unescaped "@".
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }

        var username = ""
        var password: String?
        if let userInfo {
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = PercentEncoding.decode(parts[0]) else { throw fail("the user name is not valid percent-encoded UTF-8") }
            username = user
            if parts.count == 2 {
                guard let decoded = PercentEncoding.decode(parts[1]) else { throw fail("the password is not valid percent-encoded UTF-8") }
                password = decoded
            }
        }
        guard !username.isEmpty else { throw fail("must name a user (postgres://USER@host/database)") }

        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("has an unterminated [IPv6] host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("has characters after the [IPv6] host") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw fail("must name a host") }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw fail("has an invalid port '\(portText)'") }
            port = value
        }
        var database = username
        if !path.isEmpty {
            guard let decoded = PercentEncoding.decode(path), !decoded.contains("/") else {
                throw fail("the database name is not valid")
            }
            database = decoded
        }

        var tlsMode = TLSMode.prefer
        var rootCertificatePath: String?
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0]
            let value = parts.count == 2 ? PercentEncoding.decode(parts[1]) ?? "" : ""
            switch name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    let allowed = TLSMode.allCases.map(\.rawValue).joined(separator: " | ")
                    throw fail("sslmode must be one of \(allowed), got '\(value)'")
                }
                tlsMode = mode
            case "sslrootcert":
                rootCertificatePath = value
            default:
                throw fail("has an unsupported parameter '\(name)' (supported: sslmode, sslrootcert)")
            }
        }
        self.init(
            host: String(host), port: port, username: username, password: password, database: database,
            tlsMode: tlsMode, rootCertificatePath: rootCertificatePath)
    }

    /// The URL with the password replaced by `<redacted>`.
    public var redacted: String {
        var text = "postgres://" + PercentEncoding.encode(username)
        if password != nil { text += ":<redacted>" }
        text += "@" + (host.contains(":") ? "[\(host)]" : host) + ":\(port)/" + PercentEncoding.encode(database)
        var parameters = ["sslmode=\(tlsMode.rawValue)"]
        if let rootCertificatePath { parameters.append("sslrootcert=\(PercentEncoding.encode(rootCertificatePath))") }
        return text + "?" + parameters.joined(separator: "&")
    }

    /// Same as ``redacted``: a URL is never printed with its password.
    public var description: String { redacted }
}
