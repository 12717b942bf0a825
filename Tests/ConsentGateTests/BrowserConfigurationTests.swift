import Testing

@testable import ConsentGate

/// `browser.*`: first-party analytics.js is off unless `api_host` is set, and every key is checked.
@Suite struct BrowserConfigurationTests {
    func load(_ yaml: String, environment: [String: String] = [:]) throws -> GatewayConfiguration {
        try GatewayConfiguration.load(yaml: yaml, environment: environment)
    }

    @Test func offByDefaultWithTheDocumentedDefaults() throws {
        let browser = try load("").browser
        #expect(!browser.isEnabled)
        #expect(browser == GatewayConfiguration.Browser())
        #expect(browser.apiProtocol == .https && browser.cdnURL == "https://cdn.segment.com")
        #expect(browser.settingsCacheSeconds == 60 && browser.staleIfErrorSeconds == 3600)
        #expect(browser.deviceMode == .block && browser.deviceModeAllow.isEmpty && browser.cacheMaxBytes == 32 << 20)
        #expect(browser.startupSummary == "off")
    }

    @Test func everyKeyIsRead() throws {
        let browser = try load(
            """
            browser:
              api_host: t.example.com/v1
              api_protocol: http
              cdn_url: https://cdn.example.com:8443
              settings_cache_seconds: 5
              stale_if_error_seconds: 0
              device_mode: allow
              device_mode_allow: [Hotjar, "Amplitude (Actions)"]
              cache_max_bytes: 2097152
            """
        ).browser
        #expect(browser.isEnabled && browser.apiHost == "t.example.com/v1" && browser.apiProtocol == .http)
        #expect(browser.cdnURL == "https://cdn.example.com:8443")
        #expect(browser.settingsCacheSeconds == 5 && browser.staleIfErrorSeconds == 0)
        #expect(browser.deviceMode == .allow && browser.deviceModeAllow == ["Hotjar", "Amplitude (Actions)"])
        #expect(browser.cacheMaxBytes == 2 << 20)
        #expect(browser.startupSummary == "on (api_host http://t.example.com/v1, device_mode allow)")
    }

    @Test func theEnvironmentTurnsItOn() throws {
        let browser = try load("", environment: ["CONSENTGATE_BROWSER_API_HOST": "t.example.com/v1"]).browser
        #expect(browser.isEnabled)
    }

    @Test(arguments: [
        (#"browser: {api_host: "https://t.example.com/v1"}"#, "browser.api_host"),
        ("browser: {api_host: t.example.com/v1?x=1}", "browser.api_host"),
        ("browser: {api_protocol: ftp}", "browser.api_protocol"),
        ("browser: {cdn_url: cdn.segment.com}", "browser.cdn_url"),
        (#"browser: {cdn_url: "https://cdn.example.com/segment"}"#, "browser.cdn_url"),
        ("browser: {settings_cache_seconds: -1}", "browser.settings_cache_seconds"),
        ("browser: {stale_if_error_seconds: soon}", "browser.stale_if_error_seconds"),
        ("browser: {device_mode: some}", "browser.device_mode"),
        ("browser: {cache_max_bytes: 10}", "browser.cache_max_bytes"),
    ])
    func aBadValueNamesItsKey(yaml: String, key: String) {
        #expect {
            try load(yaml)
        } throws: { error in
            (error as? ConfigurationError)?.key == key
        }
    }

    @Test func theDescriptionListsTheSection() throws {
        let description = try load("browser: {api_host: t.example.com/v1, device_mode_allow: [Hotjar]}").redactedDescription
        #expect(description.contains("browser:\n  api_host: \"t.example.com/v1\"\n  api_protocol: https\n"))
        #expect(description.contains("  device_mode_allow: [\"Hotjar\"]\n"))
    }
}
