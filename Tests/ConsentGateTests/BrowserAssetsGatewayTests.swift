import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SegmentWire
import Testing

@testable import ConsentGate

/// First-party analytics.js through a running gateway against a local fake CDN (TLS, the test CA):
/// the settings rewritten and cached, the library and bundles passed through byte for byte, single
/// flight, stale-if-error, 304, gzip, the allowlist, 502 with nothing cached, `/v1/m` relayed, and the
/// routes off while `browser.api_host` is empty.
@Suite(.timeLimit(.minutes(3)))
struct BrowserAssetsGatewayTests {
    static let writeKey = "wkBrowser1"
    static let settingsPath = "/v1/projects/\(writeKey)/settings"
    static let libraryPath = "/analytics.js/v1/\(writeKey)/analytics.min.js"
    static let settings = #"{"integrations":{"Segment.io":{"apiKey":"wkBrowser1","apiHost":"api.segment.io/v1"},"GA":{"type":"browser"},"Amplitude":{"type":"server"}},"remotePlugins":[{"name":"P","creationName":"P","url":"https://cdn.segment.com/next-integrations/actions/p/1.js"}],"n":1.0}"#
    static let rewritten = #"{"integrations":{"Segment.io":{"apiKey":"wkBrowser1","apiHost":"t.example.com/v1","protocol":"https"},"Amplitude":{"type":"server"}},"remotePlugins":[],"n":1.0}"#

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// A gateway serving analytics.js first-party from `cdn`, with the given adjustments.
    static func withGateway<T>(
        cdn: FakeCDN, _ configure: @escaping (inout GatewayConfiguration) -> Void = { _ in }, _ body: (GatewayHarness) async throws -> T
    ) async throws -> T {
        try await GatewayHarness.with({ configuration in
            configuration.browser.apiHost = "t.example.com/v1"
            configuration.browser.cdnURL = cdn.url
            configure(&configuration)
        }, body)
    }

    static func get(_ harness: GatewayHarness, _ path: String, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: harness.ingress + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await harness.client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
    }

    static func startCDN() async throws -> FakeCDN {
        let cdn = try await FakeCDN.start()
        cdn.serve(settingsPath, .init(settings, contentType: "application/json", cacheControl: "public, max-age=60", etag: "\"cdn-1\"", gzip: true))
        cdn.serve(libraryPath, .init("window.analyticsLibrary = 'é';", cacheControl: "public, max-age=300", gzip: true))
        cdn.serve("/analytics-next/bundles/ajs-destination.bundle.abc.js", .init("bundle()", cacheControl: "public, max-age=31536000, immutable"))
        cdn.serve("/next-integrations/actions/p/1.js", .init("plugin()", cacheControl: "no-store"))
        return cdn
    }

    /// Runs `body` with a started fake CDN, stopping it afterwards whatever happens.
    static func withCDN<T>(_ body: (FakeCDN) async throws -> T) async throws -> T {
        let cdn = try await startCDN()
        do {
            let result = try await body(cdn)
            await cdn.stop()
            return result
        } catch {
            await cdn.stop()
            throw error
        }
    }

    static func metric(_ harness: GatewayHarness, _ line: String) async throws -> Bool {
        let reply = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET)
        return reply.body.split(separator: "\n").contains { $0 == line }
    }

    @Test func theSettingsAreRewrittenCachedAndAnswered304() async throws {
        try await Self.withCDN { cdn in
            try await Self.withGateway(cdn: cdn) { harness in
                let first = try await Self.get(harness, Self.settingsPath, headers: [("Origin", "https://shop.example")])
                #expect(first.status == 200)
                #expect(first.text == Self.rewritten)
                #expect(first.headers.first(name: "Content-Type") == "application/json")
                #expect(first.headers.first(name: "Cache-Control") == "public, max-age=60")
                #expect(first.headers.first(name: "Access-Control-Allow-Origin") == "https://shop.example")
                let etag = try #require(first.headers.first(name: "ETag"))
                #expect(etag == HTTPCaching.etag(of: Array(Self.rewritten.utf8)))
                // The CDN was asked once, for gzip, whatever the clients ask.
                let second = try await Self.get(harness, Self.settingsPath)
                #expect(second.text == Self.rewritten)
                let notModified = try await Self.get(harness, Self.settingsPath, headers: [("If-None-Match", etag)])
                #expect(notModified.status == 304 && notModified.body.isEmpty)
                #expect(notModified.headers.first(name: "ETag") == etag)
                #expect(cdn.requests(Self.settingsPath) == 1)
                #expect(cdn.received.first?.headers[.acceptEncoding] == "gzip")
                #expect(try await Self.metric(harness, #"consentgate_browser_cdn_requests_total{kind="settings",outcome="miss"} 1"#))
                #expect(try await Self.metric(harness, #"consentgate_browser_cdn_requests_total{kind="settings",outcome="hit"} 2"#))
                #expect(try await Self.metric(harness, #"consentgate_browser_destinations_removed_total 2"#))
            }
        }
    }

    @Test func gzipGoesToClientsThatTakeItAndIdentityToOthers() async throws {
        try await Self.withCDN { cdn in
            try await Self.withGateway(cdn: cdn) { harness in
                let gzipped = try await Self.get(harness, Self.libraryPath, headers: [("Accept-Encoding", "gzip, deflate, br")])
                #expect(gzipped.status == 200)
                #expect(gzipped.headers.first(name: "Content-Encoding") == "gzip")
                #expect(gunzip(gzipped.body) == Array("window.analyticsLibrary = 'é';".utf8))
                #expect(gzipped.headers.first(name: "Vary")?.contains("Accept-Encoding") == true)
                let plain = try await Self.get(harness, Self.libraryPath)
                #expect(plain.headers.first(name: "Content-Encoding") == nil)
                #expect(plain.text == "window.analyticsLibrary = 'é';")
                let settings = try await Self.get(harness, Self.settingsPath, headers: [("Accept-Encoding", "gzip")])
                #expect(settings.headers.first(name: "Content-Encoding") == "gzip")
                #expect(String(decoding: gunzip(settings.body), as: UTF8.self) == Self.rewritten)
                #expect(cdn.requests(Self.libraryPath) == 1)
            }
        }
    }

    @Test func bundlesPassThroughByteForByteAndFollowTheCDNsCacheControl() async throws {
        try await Self.withCDN { cdn in
            try await Self.withGateway(cdn: cdn) { harness in
                for _ in 0..<2 {
                    let bundle = try await Self.get(harness, "/analytics-next/bundles/ajs-destination.bundle.abc.js")
                    #expect(bundle.status == 200 && bundle.text == "bundle()")
                    #expect(bundle.headers.first(name: "Cache-Control") == "public, max-age=31536000, immutable")
                    #expect(bundle.headers.first(name: "Content-Type") == "application/javascript")
                    let plugin = try await Self.get(harness, "/next-integrations/actions/p/1.js")
                    #expect(plugin.status == 200 && plugin.text == "plugin()")
                }
                #expect(cdn.requests("/analytics-next/bundles/ajs-destination.bundle.abc.js") == 1)
                #expect(cdn.requests("/next-integrations/actions/p/1.js") == 2)  // no-store: never kept
                // A path the CDN does not have: its 404, not kept; a path that is no route: consentgate's 404.
                #expect(try await Self.get(harness, "/next-integrations/nothing.js").status == 404)
                #expect(try await Self.get(harness, "/next-integrations/nothing.js").status == 404)
                #expect(cdn.requests("/next-integrations/nothing.js") == 2)
                let other = try await Self.get(harness, "/elsewhere/x.js")
                #expect(other.status == 404 && other.text.contains("not_found"))
                #expect(!cdn.received.contains { $0.path == "/elsewhere/x.js" })
            }
        }
    }

    @Test func oneFetchServesConcurrentRequests() async throws {
        try await Self.withCDN { cdn in
            cdn.answer(after: .milliseconds(800))
            try await Self.withGateway(cdn: cdn) { harness in
                let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                    for _ in 0..<12 {
                        group.addTask {
                            let answer = try await Self.get(harness, Self.settingsPath)
                            return (answer.status, answer.text)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.count == 12)
                #expect(statuses.allSatisfy { $0.0 == 200 && $0.1 == Self.rewritten })
                #expect(cdn.requests(Self.settingsPath) == 1)
            }
        }
    }

    @Test func aStaleCopyIsRevalidatedAndServedWhileTheCDNFails() async throws {
        try await Self.withCDN { cdn in
            try await Self.withGateway(cdn: cdn, { $0.browser.settingsCacheSeconds = 0.2 }) { harness in
                #expect(try await Self.get(harness, Self.settingsPath).text == Self.rewritten)
                try await Task.sleep(for: .milliseconds(400))
                // Stale: revalidated with the CDN's ETag, which answers 304.
                #expect(try await Self.get(harness, Self.settingsPath).text == Self.rewritten)
                #expect(cdn.received.last?.headers[.ifNoneMatch] == "\"cdn-1\"")
                try await Task.sleep(for: .milliseconds(400))
                cdn.fail(503)
                let stale = try await Self.get(harness, Self.settingsPath)
                #expect(stale.status == 200 && stale.text == Self.rewritten)
                #expect(cdn.requests(Self.settingsPath) == 3)
                #expect(try await Self.metric(harness, #"consentgate_browser_cdn_requests_total{kind="settings",outcome="revalidated"} 1"#))
                #expect(try await Self.metric(harness, #"consentgate_browser_cdn_requests_total{kind="settings",outcome="stale"} 1"#))
            }
        }
    }

    @Test func aCDNFailureWithNothingCachedAnswers502() async throws {
        try await Self.withCDN { cdn in
            cdn.fail(500)
            try await Self.withGateway(cdn: cdn, { $0.browser.staleIfErrorSeconds = 0 }) { harness in
                let answer = try await Self.get(harness, Self.settingsPath, headers: [("Origin", "https://shop.example")])
                #expect(answer.status == 502)
                #expect(answer.text.contains(#""code":"cdn_unavailable""#))
                #expect(answer.headers.first(name: "Access-Control-Allow-Origin") == "https://shop.example")
                #expect(try await Self.metric(harness, #"consentgate_browser_cdn_requests_total{kind="settings",outcome="error"} 1"#))
            }
            // A CDN that does not answer at all: the same.
            await cdn.stop()
            try await Self.withGateway(cdn: cdn) { harness in
                let answer = try await Self.get(harness, Self.libraryPath)
                #expect(answer.status == 502)
            }
        }
    }

    @Test func aWriteKeyOffTheAllowlistIsRefusedBeforeTheCDN() async throws {
        try await Self.withCDN { cdn in
            try await Self.withGateway(cdn: cdn, { $0.ingress.writeKeys = [Self.writeKey] }) { harness in
                #expect(try await Self.get(harness, Self.settingsPath).status == 200)
                for path in ["/v1/projects/otherKey/settings", "/analytics.js/v1/otherKey/analytics.min.js"] {
                    let refused = try await Self.get(harness, path)
                    #expect(refused.status == 401 && refused.text.contains("unknown_write_key"))
                }
                #expect(cdn.received.allSatisfy { !$0.path.contains("otherKey") })
                // Bundles name no write key: served to any page.
                #expect(try await Self.get(harness, "/analytics-next/bundles/ajs-destination.bundle.abc.js").status == 200)
            }
        }
    }

    @Test func analyticsJSTelemetryIsRelayedUpstreamUnchanged() async throws {
        try await Self.withCDN { cdn in
            try await Self.withGateway(cdn: cdn) { harness in
                let telemetry = #"{"series":[{"type":"Counter","metric":"analytics_js.invoke","value":1,"tags":{"method":"track"}}]}"#
                let reply = try await harness.post("/v1/m", body: Array(telemetry.utf8), headers: [("Content-Type", "text/plain")])
                #expect(reply.status == 200)
                let received = try #require(harness.sink.received.last)
                #expect(received.path == "/v1/m")
                #expect(received.body == Array(telemetry.utf8))
                #expect(received.headers[.contentType] == "text/plain")
                #expect(try await harness.post("/v1/m", body: [], method: .GET).status == 405)
                let preflight = try await harness.post(
                    "/v1/m", body: [], headers: [("Origin", "https://shop.example"), ("Access-Control-Request-Method", "POST")], method: .OPTIONS)
                #expect(preflight.status == 204)
                #expect(preflight.headers.first(name: "Access-Control-Allow-Methods") == "POST, OPTIONS")
                #expect(try await harness.post(Self.settingsPath, body: [], method: .POST).status == 405)
            }
        }
    }

    @Test func sdkTrafficIsForwardedByteForByteWithFirstPartyServingOn() async throws {
        try await Self.withCDN { cdn in
            try await Self.withGateway(cdn: cdn, GatewayHarness.shadow) { harness in
                let batch = TestEvents.batch([TestEvents.track(), TestEvents.track(userId: "user-2")])
                let reply = try await harness.post("/v1/batch", json: batch)
                #expect(reply.status == 200)
                #expect(harness.sink.received.map(\.body) == [Array(batch.utf8)])
                #expect(cdn.received.isEmpty)
            }
        }
    }

    @Test func withoutApiHostTheRoutesStay404AndTheCDNIsNeverAsked() async throws {
        try await Self.withCDN { cdn in
            try await GatewayHarness.with({ $0.browser.cdnURL = cdn.url }) { harness in
                for path in [Self.settingsPath, Self.libraryPath, "/analytics-next/bundles/ajs-destination.bundle.abc.js"] {
                    let answer = try await Self.get(harness, path)
                    #expect(answer.status == 404 && answer.text.contains("not_found"))
                }
                #expect(try await harness.post("/v1/m", json: "{}").status == 404)
                #expect(cdn.received.isEmpty)
                #expect(harness.sink.received.isEmpty)
            }
        }
    }
}
