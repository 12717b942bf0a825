/// A path of first-party analytics.js on the ingress listener (``GatewayConfiguration/Browser``): what
/// analytics.js asks its CDN for, and its own telemetry. Pure: a path in, a route or `nil` out.
///
/// - `GET /v1/projects/{writeKey}/settings`: the settings document, rewritten (``SettingsRewrite``);
/// - `GET /analytics.js/v1/{writeKey}/analytics.min.js`: the library, byte for byte;
/// - `GET /analytics-next/bundles/…` and `GET /next-integrations/…`: the static bundles, byte for byte;
/// - `POST /v1/m`: analytics.js's metrics (no events), relayed upstream unchanged.
///
/// A write key is 1 to 128 of `A-Z a-z 0-9 _ - .`; a bundle path takes `A-Z a-z 0-9 _ - . ~ + @ /` with
/// no empty or `..` segment, so nothing but a plain CDN path is ever asked of the CDN (the query is dropped:
/// analytics.js puts none on these paths).
enum BrowserRoute: Sendable, Hashable {
    case settings(writeKey: String)
    case library(writeKey: String)
    case bundle
    case metrics

    /// The metric label of a CDN request.
    enum Kind: String, Sendable, Hashable, CaseIterable {
        case settings, library, bundle
    }

    /// The kind of a CDN route; `nil` for ``metrics``.
    var kind: Kind? {
        switch self {
        case .settings: .settings
        case .library: .library
        case .bundle: .bundle
        case .metrics: nil
        }
    }

    /// The write key a route names (checked against the allowlist).
    var writeKey: String? {
        switch self {
        case .settings(let key), .library(let key): key
        case .bundle, .metrics: nil
        }
    }

    init?(path: String) {
        if path == "/v1/m" || path == "/v1/m/" {
            self = .metrics
            return
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/"), let first = segments.first else { return nil }
        let parts = Array(segments)
        switch first {
        case "v1" where parts.count == 4 && parts[1] == "projects" && parts[3] == "settings" && Self.isWriteKey(parts[2]):
            self = .settings(writeKey: String(parts[2]))
        case "analytics.js" where parts.count == 4 && parts[1] == "v1" && parts[3] == "analytics.min.js" && Self.isWriteKey(parts[2]):
            self = .library(writeKey: String(parts[2]))
        case "analytics-next" where parts.count >= 3 && parts[1] == "bundles" && Self.isAssetPath(parts.dropFirst(2)):
            self = .bundle
        case "next-integrations" where parts.count >= 2 && Self.isAssetPath(parts.dropFirst(1)):
            self = .bundle
        default:
            return nil
        }
    }

    private static func isWriteKey(_ key: Substring) -> Bool {
        (1...128).contains(key.utf8.count) && key.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
            && key != "." && key != ".."
    }

    private static func isAssetPath(_ segments: ArraySlice<Substring>) -> Bool {
        segments.allSatisfy { segment in
            !segment.isEmpty && segment != "." && segment != ".." && segment.utf8.count <= 256
                && segment.utf8.allSatisfy { isAlphanumeric($0) || "_-.~+@".utf8.contains($0) }
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
