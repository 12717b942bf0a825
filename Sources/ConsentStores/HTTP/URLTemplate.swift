/// The URL of one subject's consent at a customer's service (`store.http.url_template`), e.g.
/// `https://consent.example.com/v1/subjects/{subject}/preferences`.
///
/// `{subject}` may appear anywhere after the host (path or query), once or more; the subject is
/// percent-encoded there, every byte but RFC 3986's unreserved characters, so it can never change the
/// URL's structure. No other `{...}` placeholder exists.
public struct URLTemplate: Sendable, Hashable, CustomStringConvertible {
    /// Why a template cannot be used.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The placeholder.
    public static let placeholder = "{subject}"

    /// The text around the placeholders: one more piece than placeholders.
    private let pieces: [String]
    /// The template as written.
    public let description: String

    /// - Parameter requiresPlaceholder: `false` when the subject travels elsewhere (a request body, as
    ///   `store.http.body_template` sends it), so the URL may be fixed.
    public init(_ template: String, requiresPlaceholder: Bool = true) throws(ParseError) {
        let lowered = template.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else {
            throw ParseError(reason: "must start with http:// or https://")
        }
        let pieces = template.split(separator: Self.placeholder, omittingEmptySubsequences: false).map(String.init)
        guard pieces.count >= 2 || !requiresPlaceholder else {
            throw ParseError(reason: "must contain \(Self.placeholder)")
        }
        for piece in pieces where piece.contains("{") || piece.contains("}") {
            throw ParseError(reason: "has a placeholder other than \(Self.placeholder)")
        }
        let schemeEnd = template.firstRange(of: "://")!.upperBound
        let authority = template[schemeEnd...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains(Self.placeholder) else {
            throw ParseError(reason: "must name a host, and \(Self.placeholder) may not be part of it")
        }
        guard !template.contains(" ") else {
            throw ParseError(reason: "must not contain spaces")
        }
        self.pieces = pieces
        self.description = template
    }

    /// The URL for `subject`.
    public func url(for subject: String) -> String {
        let encoded = PercentEncoding.encode(subject)
        return pieces.joined(separator: encoded)
    }
}
