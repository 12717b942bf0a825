import HTTPTypes

/// The request headers a tracking route reads, taken in one pass over the fields.
///
/// `HTTPFields`' lookup by name joins the values it finds into a new `String` each time; the route
/// read seven headers, some twice, for every batch. Repeated fields are joined here as that lookup
/// joins them (`, `), so a request reads the same either way.
struct TrackingHeaders {
    var origin: String?
    var contentEncoding: String?
    var authorization: String?
    var contentType: String?
    var userAgent: String?
    /// `Sec-GPC`, the Global Privacy Control signal.
    var globalPrivacyControl: String?
    var accessControlRequestHeaders: String?
    /// `X-Forwarded-For` and `Forwarded`: read only when the peer is a trusted proxy.
    var forwardedFor: String?
    var forwarded: String?

    static let globalPrivacyControlName = HTTPField.Name("Sec-GPC")!
    static let forwardedForName = HTTPField.Name("X-Forwarded-For")!
    static let forwardedName = HTTPField.Name("Forwarded")!

    init(_ fields: HTTPFields) {
        for field in fields {
            switch field.name {
            case .contentEncoding: Self.add(field.value, to: &contentEncoding)
            case .authorization: Self.add(field.value, to: &authorization)
            case .contentType: Self.add(field.value, to: &contentType)
            case .userAgent: Self.add(field.value, to: &userAgent)
            case .origin: Self.add(field.value, to: &origin)
            case Self.globalPrivacyControlName: Self.add(field.value, to: &globalPrivacyControl)
            case .accessControlRequestHeaders: Self.add(field.value, to: &accessControlRequestHeaders)
            case Self.forwardedForName: Self.add(field.value, to: &forwardedFor)
            case Self.forwardedName: Self.add(field.value, to: &forwarded)
            default: break
            }
        }
    }

    /// The request carries `Sec-GPC: 1`.
    var gpc: Bool { globalPrivacyControl?.trimmingSpaces == "1" }

    private static func add(_ value: String, to header: inout String?) {
        if let first = header {
            header = first + ", " + value
        } else {
            header = value
        }
    }
}
