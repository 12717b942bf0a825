import Foundation
import Testing

@testable import ConsentGate

/// First-party analytics.js in a real browser: Debian's headless Chromium loads a page from a second
/// local origin that does with what consentgate serves it what analytics.js does — fetch the settings,
/// read `integrations["Segment.io"].apiHost`, load the script of every destination and remote plugin
/// the settings name for the page (analytics-next's rule and URLs), then send a `/v1/t` event with
/// `fetch(…, {keepalive: true})` as `text/plain`, a `/v1/b` batch with `writeKey` in the body, and a
/// `navigator.sendBeacon`. The TLS sink must receive all three, and the fake CDN (serving device-mode,
/// cloud-mode and action destinations) must never be asked for a removed destination's script.
@Suite(.timeLimit(.minutes(3)))
struct AnalyticsJSBrowserTests {
    static let writeKey = "wkPage1"
    static let subject = "browser-anon-1"

    /// Google Analytics (device mode by `type`) and Hotjar (by `componentTypes`, allowed by name), Mixpanel
    /// (unbundled: cloud mode), Amplitude (cloud mode), and two action destinations whose device-mode
    /// parts are remote plugins.
    static let settings = #"""
        {"integrations":{"Segment.io":{"apiKey":"wkPage1","apiHost":"api.segment.io/v1","protocol":"https","deliveryStrategy":{"strategy":"standard","config":{"keepalive":true}}},\#
        "Google Analytics":{"type":"browser","version":"2.18.4","trackingId":"UA-1"},\#
        "Hotjar":{"versionSettings":{"version":"1.2.3","componentTypes":["browser"]},"siteId":"1"},\#
        "Mixpanel":{"type":"browser","bundlingStatus":"unbundled","token":"t"},\#
        "Amplitude":{"type":"server","versionSettings":{"componentTypes":["server"]}},\#
        "Amplitude (Actions)":{"versionSettings":{"componentTypes":[]}}},\#
        "metrics":{"sampleRate":0.1,"host":"api.segment.io/v1"},\#
        "remotePlugins":[{"name":"Amplitude (Actions) browserPlugins","creationName":"Amplitude (Actions)","libraryName":"amplitudeDestination","url":"https://cdn.segment.com/next-integrations/actions/amplitude-plugins/ab12.js","settings":{}},\#
        {"name":"Braze Web Mode (Actions)","creationName":"Braze Web Mode (Actions)","libraryName":"brazeDestination","url":"https://cdn.segment.com/next-integrations/actions/braze/cd34.js","settings":{}}]}
        """#

    /// The scripts analytics.js would load for the destinations above (what `device_mode: allow` would let through).
    static let hotjarScript = "/next-integrations/integrations/hotjar/1.2.3/hotjar.dynamic.js.gz"
    static let removedScripts = [
        "/next-integrations/integrations/google-analytics/latest/google-analytics.dynamic.js.gz",
        "/next-integrations/actions/amplitude-plugins/ab12.js",
        "/next-integrations/actions/braze/cd34.js",
    ]

    /// The page: analytics.js's steps, with consentgate's address as its CDN (the snippet's only change).
    static func page(consentgate: String) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"></head><body><pre id="out"></pre><script>
        const cdn = "\(consentgate)";
        const writeKey = "\(writeKey)";
        const out = document.getElementById("out");
        const log = (line) => { out.textContent += line + "\\n"; };
        const loadScript = (src) => new Promise((resolve) => {
          const script = document.createElement("script");
          script.src = src;
          script.onload = () => resolve("loaded");
          script.onerror = () => resolve("failed");
          document.head.appendChild(script);
        });
        const event = (type, fields) => Object.assign({
          type, anonymousId: "\(subject)", writeKey, timestamp: new Date().toISOString(), sentAt: new Date().toISOString(),
          context: {library: {name: "analytics.js", version: "next-1.70.0"}, consent: {categoryPreferences: {Advertising: false, Analytics: true}}}
        }, fields);
        (async () => {
          try {
            const settings = await (await fetch(cdn + "/v1/projects/" + writeKey + "/settings")).json();
            const sender = settings.integrations["Segment.io"];
            log("apiHost=" + sender.apiHost);
            const api = (sender.protocol || "https") + "://" + sender.apiHost;
            const loads = [];
            // analytics-next: isInstallableIntegration, then loadIntegration's URL (ajs-destination/utils.ts, loader.ts).
            for (const [name, integration] of Object.entries(settings.integrations)) {
              const versionSettings = integration.versionSettings || {};
              const deviceMode = integration.bundlingStatus !== "unbundled" &&
                (integration.type === "browser" || (versionSettings.componentTypes || []).includes("browser"));
              if (name === "Segment.io" || name.startsWith("Segment") || !deviceMode) continue;
              const pathName = name.toLowerCase().replace(".", "").replace(/\\s+/g, "-");
              const version = versionSettings.override || versionSettings.version || "latest";
              const src = cdn + "/next-integrations/integrations/" + pathName + "/" + version + "/" + pathName + ".dynamic.js.gz";
              loads.push(loadScript(src).then((result) => log("script:" + pathName + "=" + result)));
            }
            // analytics-next: remote-loader's loadPluginFactory (the default CDN replaced by the page's).
            for (const plugin of settings.remotePlugins || []) {
              const src = plugin.url.replace(new RegExp("https://cdn.segment.(com|build)"), cdn);
              loads.push(loadScript(src).then((result) => log("plugin:" + plugin.name + "=" + result)));
            }
            await Promise.all(loads);
            log("hotjarRan=" + (window.hotjarLoaded === true));
            const t = await fetch(api + "/t", {method: "POST", keepalive: true, headers: {"Content-Type": "text/plain"},
              body: JSON.stringify(event("track", {event: "Fetch Sent", messageId: "m-fetch"}))});
            log("t=" + t.status);
            const b = await fetch(api + "/b", {method: "POST", headers: {"Content-Type": "text/plain"},
              body: JSON.stringify({writeKey, sentAt: new Date().toISOString(), batch: [event("page", {name: "Home", messageId: "m-batch"})]})});
            log("b=" + b.status);
            log("beacon=" + navigator.sendBeacon(api + "/t", JSON.stringify(event("track", {event: "Beacon Sent", messageId: "m-beacon"}))));
            log("done");
          } catch (error) {
            log("error=" + error);
          }
        })();
        </script></body></html>
        """
    }

    @Test func aPageSendsEverythingThroughConsentgateAndLoadsNoRemovedDestination() async throws {
        let chromium = try #require(DebuggerBrowserTests.chromium, "Debian's chromium package is needed (scripts/test.sh installs it)")
        let cdn = try await FakeCDN.start()
        let origin = try await FakeCDN.start(tls: false)
        do {
            cdn.serve("/v1/projects/\(Self.writeKey)/settings", .init(Self.settings, contentType: "application/json", gzip: true))
            cdn.serve(Self.hotjarScript, .init("window.hotjarLoaded = true;", gzip: true))
            for path in Self.removedScripts { cdn.serve(path, .init("window.bypass = true;")) }
            // consentgate's port must be known before it starts: it is in the apiHost the settings carry.
            let port = try Self.unusedPort()
            let consentgate = "http://127.0.0.1:\(port)"
            origin.serve("/page.html", .init(Self.page(consentgate: consentgate), contentType: "text/html; charset=utf-8"))
            try await GatewayHarness.with({ configuration in
                configuration.ingress.port = port
                configuration.ingress.writeKeys = [Self.writeKey]
                configuration.browser.apiHost = "127.0.0.1:\(port)/v1"
                configuration.browser.apiProtocol = .http
                configuration.browser.cdnURL = cdn.url
                configuration.browser.deviceModeAllow = ["Hotjar"]
            }) { harness in
                try await harness.putConsent(Self.subject, ["Advertising": false, "Analytics": true])
                let common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=10000"]
                let dom = await TestProcess.runDetached(common + ["--dump-dom", origin.url + "/page.html"], timeout: 90)
                #expect(dom.exitCode == 0, "\(dom.output.suffix(2000))")
                // What the page logged (the `<pre>`; the dumped DOM also holds the script's own text).
                let logged = Set(Self.logLines(dom.output))
                #expect(logged.contains("apiHost=127.0.0.1:\(port)/v1"), "\(dom.output.suffix(3000))")
                #expect(logged.isSuperset(of: ["script:hotjar=loaded", "hotjarRan=true", "t=200", "b=200", "beacon=true", "done"]), "\(logged)")
                #expect(!logged.contains { $0.hasPrefix("plugin:") || $0.contains("google-analytics") || $0.hasPrefix("error=") }, "\(logged)")

                // The beacon is sent after the page is done with it: wait for it, boundedly.
                let deadline = ContinuousClock.now + .seconds(15)
                while harness.sink.received.count < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                /// What the TLS sink (Segment) received from the page, for the assertions below.
                let received = harness.sink.received
                #expect(received.map(\.path).sorted() == ["/v1/b", "/v1/t", "/v1/t"])
                let events = received.flatMap(\.events)
                #expect(Set(events.compactMap { $0["messageId"] as? String }) == ["m-fetch", "m-batch", "m-beacon"])
                #expect(events.allSatisfy { $0["anonymousId"] as? String == Self.subject })
                #expect(received.allSatisfy { $0.headers[.contentType]?.hasPrefix("text/plain") == true })
                // Segment receives the browser's address, not the gateway's: each event's `context.ip` and the
                // upstream `X-Forwarded-For` (ingress.client_ip.fill: client_libraries, the default).
                #expect(events.map { ($0["context"] as? [String: Any])?["ip"] as? String } == Array(repeating: "127.0.0.1", count: 3))
                #expect(received.allSatisfy { $0.headers[values: .init("X-Forwarded-For")!] == ["127.0.0.1"] })

                // The CDN served the settings once and the allowed destination's script; never a removed one.
                #expect(cdn.requests("/v1/projects/\(Self.writeKey)/settings") == 1)
                #expect(cdn.requests(Self.hotjarScript) == 1)
                for path in Self.removedScripts { #expect(cdn.requests(path) == 0, "\(path) was fetched") }
                #expect(cdn.received.allSatisfy { $0.path == Self.hotjarScript || !$0.path.hasPrefix("/next-integrations/") })
            }
        } catch {
            await cdn.stop()
            await origin.stop()
            throw error
        }
        await cdn.stop()
        await origin.stop()
    }

    /// The lines of the page's `<pre id="out">` in a dumped DOM.
    static func logLines(_ dom: String) -> [String] {
        guard let start = dom.range(of: #"<pre id="out">"#), let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex) else {
            return []
        }
        return dom[start.upperBound..<end.lowerBound].split(separator: "\n").map { String($0) }
    }

    /// A loopback port free right now (bound, read, released).
    static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CocoaError(.fileNoSuchFile) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw CocoaError(.fileWriteUnknown) }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard named == 0 else { throw CocoaError(.fileReadUnknown) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
