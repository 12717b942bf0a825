/// The type of a Segment event, as named by its `type` field or implied by a single-event route.
public enum EventType: UInt8, Sendable, Hashable, CaseIterable {
    case identify
    case track
    case page
    case screen
    case group
    case alias

    /// The wire name (`"identify"`, `"track"`, ...).
    public var name: String {
        switch self {
        case .identify: "identify"
        case .track: "track"
        case .page: "page"
        case .screen: "screen"
        case .group: "group"
        case .alias: "alias"
        }
    }

    /// Parses the raw (unescaped) bytes of a `type` string value.
    public init?(bytes: some Collection<UInt8>) {
        for candidate in EventType.allCases where candidate.name.utf8.elementsEqual(bytes) {
            self = candidate
            return
        }
        return nil
    }
}

/// A route of the Segment HTTP Tracking API.
///
/// Accepts the documented paths (`/v1/identify`, `/v1/track`, ..., `/v1/batch`), the `/v1/import`
/// alias used by analytics-java and analytics-ruby, and the analytics.js short paths
/// (`/v1/i`, `/v1/t`, `/v1/p`, `/v1/s`, `/v1/g`, `/v1/a`, `/v1/b`). A trailing slash is accepted.
public enum TrackingRoute: Sendable, Hashable {
    /// A route whose body is one event of the given type.
    case single(EventType)
    /// A route whose body is `{"batch": [...], ...}`: `/v1/batch`, `/v1/import`, `/v1/b`.
    case batch

    /// Resolves a request path; `nil` when the path is not a tracking route.
    public init?(path: some StringProtocol) {
        var utf8 = Substring(path).utf8[...]
        guard utf8.starts(with: "/v1/".utf8) else { return nil }
        utf8 = utf8.dropFirst(4)
        if utf8.last == UInt8(ascii: "/") { utf8 = utf8.dropLast() }
        switch String(Substring(utf8)) {
        case "identify", "i": self = .single(.identify)
        case "track", "t": self = .single(.track)
        case "page", "p": self = .single(.page)
        case "screen", "s": self = .single(.screen)
        case "group", "g": self = .single(.group)
        case "alias", "a": self = .single(.alias)
        case "batch", "import", "b": self = .batch
        default: return nil
        }
    }

    /// A short, bounded label for metrics and logs (`"track"`, `"batch"`, ...).
    public var label: String {
        switch self {
        case .single(let type): type.name
        case .batch: "batch"
        }
    }

    /// The largest decompressed body Segment accepts on this route.
    public func maxBodyBytes(_ limits: WireLimits) -> Int {
        switch self {
        case .single: limits.maxEventBytes
        case .batch: limits.maxBatchBytes
        }
    }
}
