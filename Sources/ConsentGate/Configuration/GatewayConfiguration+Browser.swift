extension GatewayConfiguration {
    /// `browser.*`: analytics.js served first-party from the ingress listener (its settings rewritten, its
    /// library and bundles passed through from Segment's CDN). Off while ``apiHost`` is empty: the new
    /// routes then answer 404, as before.
    public struct Browser: Sendable, Hashable {
        /// `browser.device_mode`.
        public enum DeviceMode: String, Sendable, Hashable, CaseIterable {
            /// Remove from the settings every destination analytics.js would load in the page.
            case block
            /// Leave them all (they send to their vendors directly, around consentgate).
            case allow
        }

        /// `browser.api_protocol`.
        public enum APIProtocol: String, Sendable, Hashable, CaseIterable {
            case https
            case http
        }

        /// `browser.api_host`: where pages send events, as analytics.js's `apiHost` (`t.example.com/v1`);
        /// setting it turns first-party serving on.
        public var apiHost = ""
        /// `browser.api_protocol` (default `https`).
        public var apiProtocol = APIProtocol.https
        /// `browser.cdn_url`: Segment's CDN, `http(s)://host[:port]`; trusted with `upstream.ca_file`'s roots.
        public var cdnURL = "https://cdn.segment.com"
        /// `browser.settings_cache_seconds`: how long a rewritten settings document is served before it is fetched again.
        public var settingsCacheSeconds = 60.0
        /// `browser.stale_if_error_seconds`: how long past its freshness a copy is served while the CDN fails.
        public var staleIfErrorSeconds = 3600.0
        /// `browser.device_mode` (default `block`).
        public var deviceMode = DeviceMode.block
        /// `browser.device_mode_allow`: integration names or `creationName`s kept under `block`.
        public var deviceModeAllow: [String] = []
        /// `browser.cache_max_bytes`: the bound on cached bodies (least recently used evicted first).
        public var cacheMaxBytes = 32 << 20

        public init() {}

        /// Whether first-party serving is on.
        public var isEnabled: Bool { !apiHost.isEmpty }

        /// Reads `browser.*`.
        mutating func read(from values: ConfigValues) throws(ConfigurationError) {
            apiHost = try values.string("api_host", default: apiHost).trimmingSpaces
            if apiHost.contains("://") || apiHost.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) {
                throw ConfigurationError(
                    key: values.fullKey("api_host"),
                    "must be a host and path without the scheme, as analytics.js's apiHost (e.g. t.example.com/v1), got '\(apiHost)'")
            }
            apiProtocol = try values.choice("api_protocol", default: apiProtocol)
            cdnURL = try values.string("cdn_url", default: cdnURL).trimmingSpaces
            guard UpstreamEndpoint(url: cdnURL) != nil else {
                throw ConfigurationError(key: values.fullKey("cdn_url"), "must be http(s)://host[:port] with no path, got '\(cdnURL)'")
            }
            settingsCacheSeconds = try values.seconds("settings_cache_seconds", default: settingsCacheSeconds, in: 0...86_400)
            staleIfErrorSeconds = try values.seconds("stale_if_error_seconds", default: staleIfErrorSeconds, in: 0...604_800)
            deviceMode = try values.choice("device_mode", default: deviceMode)
            deviceModeAllow = try values.strings("device_mode_allow", default: deviceModeAllow)
            cacheMaxBytes = try values.int("cache_max_bytes", default: cacheMaxBytes, in: (1 << 20)...(1 << 32))
        }

        /// The `browser:` lines of ``GatewayConfiguration/redactedDescription``.
        var descriptionLines: [String] {
            [
                "browser:",
                "  api_host: \"\(apiHost)\"",
                "  api_protocol: \(apiProtocol.rawValue)",
                "  cdn_url: \"\(cdnURL)\"",
                "  settings_cache_seconds: \(settingsCacheSeconds)",
                "  stale_if_error_seconds: \(staleIfErrorSeconds)",
                "  device_mode: \(deviceMode.rawValue)",
                "  device_mode_allow: [" + deviceModeAllow.map { "\"\($0)\"" }.joined(separator: ", ") + "]",
                "  cache_max_bytes: \(cacheMaxBytes)",
            ]
        }

        /// The startup log's summary: whether first-party serving is on, and how.
        var startupSummary: String {
            isEnabled ? "on (api_host \(apiProtocol.rawValue)://\(apiHost), device_mode \(deviceMode.rawValue))" : "off"
        }
    }
}
