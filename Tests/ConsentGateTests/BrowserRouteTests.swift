import Testing

@testable import ConsentGate

/// ``BrowserRoute``: which paths first-party analytics.js serves, and that nothing else reaches the CDN.
@Suite struct BrowserRouteTests {
    @Test(arguments: [
        ("/v1/projects/abcDEF123/settings", BrowserRoute.settings(writeKey: "abcDEF123")),
        ("/analytics.js/v1/abc_-.1/analytics.min.js", .library(writeKey: "abc_-.1")),
        ("/analytics-next/bundles/ajs-destination.bundle.c34fd3ea.js", .bundle),
        ("/analytics-next/bundles/legacyVideos.bundle.2.js.gz", .bundle),
        ("/next-integrations/integrations/google-analytics/2.18.4/google-analytics.dynamic.js.gz", .bundle),
        ("/next-integrations/actions/amplitude-plugins/ab12.js", .bundle),
        ("/next-integrations/vendor/commons.59560acd.js.gz", .bundle),
        ("/v1/m", .metrics),
    ])
    func aRouteOfAnalyticsJS(path: String, route: BrowserRoute) {
        #expect(BrowserRoute(path: path) == route)
    }

    @Test(arguments: [
        "/v1/track", "/v1/batch", "/", "", "/v1/projects//settings", "/v1/projects/a/b/settings", "/v1/projects/a%2F/settings",
        "/v1/projects/../settings", "/analytics.js/v1/k/analytics.js", "/analytics-next/bundles/", "/analytics-next/bundles/../x",
        "/analytics-next/x.js", "/next-integrations/", "/next-integrations/a//b.js", "/next-integrations/a/../../etc/passwd",
        "/next-integrations/a b.js", "/next-integrations/a%2e%2e/b.js", "/v1/mm",
    ])
    func notARoute(path: String) {
        #expect(BrowserRoute(path: path) == nil, "\(path)")
    }

    @Test func theWriteKeyAndKindOfEachRoute() {
        #expect(BrowserRoute.settings(writeKey: "k").writeKey == "k")
        #expect(BrowserRoute.library(writeKey: "k").kind == .library)
        #expect(BrowserRoute.bundle.writeKey == nil && BrowserRoute.bundle.kind == .bundle)
        #expect(BrowserRoute.metrics.kind == nil)
    }
}
