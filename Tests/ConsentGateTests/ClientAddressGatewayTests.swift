import ClientAddress
import Foundation
import Testing

@testable import ConsentGate

/// The visitor's address through real sockets: what reaches the TLS upstream as `context.ip` and
/// `X-Forwarded-For`, under each `ingress.client_ip.fill`, `ingress.trusted_proxies` and `privacy.ip`.
@Suite(.timeLimit(.minutes(2)))
struct ClientAddressGatewayTests {
    static func browserEvent(ip: String? = nil, library: String = "analytics.js") -> String {
        let address = ip.map { #","ip":"\#($0)""# } ?? ""
        return #"{"type":"track","event":"Viewed","anonymousId":"anon-1","messageId":"\#(UUID().uuidString)","context":{"library":{"name":"\#(library)","version":"next-1.70.0"},"consent":{"categoryPreferences":{"Analytics":true}}\#(address)}}"#
    }

    static func shadow(_ extra: @escaping @Sendable (inout GatewayConfiguration) -> Void = { _ in }) -> @Sendable (inout GatewayConfiguration) -> Void {
        { configuration in
            configuration.policy.rules.mode = .shadow
            extra(&configuration)
        }
    }

    static func context(_ received: SegmentSink.Received, event index: Int = 0) -> [String: Any]? {
        guard index < received.events.count else { return nil }
        return received.events[index]["context"] as? [String: Any]
    }

    @Test func aBrowserEventGetsTheConnectingAddress() async throws {
        try await GatewayHarness.with(Self.shadow()) { harness in
            let reply = try await harness.post("/v1/t", json: Self.browserEvent(), headers: [("Content-Type", "text/plain")])
            #expect(reply.status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(Self.context(received)?["ip"] as? String == "127.0.0.1")
            #expect(received.headers[values: .init("X-Forwarded-For")!] == ["127.0.0.1"])
        }
    }

    @Test func serverSideTrafficIsForwardedByteForByte() async throws {
        try await GatewayHarness.with(Self.shadow()) { harness in
            let body = TestEvents.batch([Self.browserEvent(library: "analytics-python"), TestEvents.track(), Self.browserEvent(ip: "8.8.8.8")])
            #expect(try await harness.post("/v1/batch", json: body).status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(received.body == Array(body.utf8))
            // The upstream still learns who connected.
            #expect(received.headers[values: .init("X-Forwarded-For")!] == ["127.0.0.1"])
        }
    }

    @Test func fillAllAndOff() async throws {
        let configure1 = Self.shadow { configuration in configuration.ingress.clientIPFill = .all }
        try await GatewayHarness.with(configure1) { harness in
            let reply = try await harness.post("/v1/batch", json: TestEvents.batch([TestEvents.track()]))
            #expect(reply.status == 200)
            #expect(Self.context(try #require(harness.sink.received.first))?["ip"] as? String == "127.0.0.1")
        }
        let configure2 = Self.shadow { configuration in configuration.ingress.clientIPFill = .off }
        try await GatewayHarness.with(configure2) { harness in
            let body = Self.browserEvent()
            let reply = try await harness.post("/v1/t", json: body)
            #expect(reply.status == 200)
            #expect(try #require(harness.sink.received.first).body == Array(body.utf8))
        }
    }

    @Test func forwardingHeadersCountOnlyFromATrustedProxy() async throws {
        let headers = [("Content-Type", "application/json"), ("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 127.0.0.9")]
        // Not trusted: the header is the client's own writing.
        try await GatewayHarness.with(Self.shadow()) { harness in
            #expect(try await harness.post("/v1/t", json: Self.browserEvent(), headers: headers).status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(Self.context(received)?["ip"] as? String == "127.0.0.1")
            #expect(received.headers[values: .init("X-Forwarded-For")!] == ["127.0.0.1"])
        }
        // Loopback trusted (the proxy and the hop it names): the rightmost untrusted address is the client.
        let configure3 = Self.shadow { configuration in configuration.ingress.trustedProxies = [IPNetwork("127.0.0.0/8")!] }
        try await GatewayHarness.with(configure3) { harness in
            #expect(try await harness.post("/v1/t", json: Self.browserEvent(), headers: headers).status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(Self.context(received)?["ip"] as? String == "198.51.100.7")
            #expect(received.headers[values: .init("X-Forwarded-For")!] == ["198.51.100.7"])
            let forwarded = [("Content-Type", "application/json"), ("Forwarded", #"for="[2001:db8::7]:4711";proto=https"#)]
            #expect(try await harness.post("/v1/t", json: Self.browserEvent(), headers: forwarded).status == 200)
            #expect(Self.context(try #require(harness.sink.received.last))?["ip"] as? String == "2001:db8::7")
        }
    }

    @Test func privacyTruncateAndDrop() async throws {
        let headers = [("Content-Type", "application/json"), ("X-Forwarded-For", "198.51.100.7")]
        let trusted = [IPNetwork("127.0.0.1")!]
        let configure4 = Self.shadow { configuration in configuration.ingress.trustedProxies = trusted; configuration.privacy.ip = .truncate }
        try await GatewayHarness.with(configure4) { harness in
            let body = TestEvents.batch([Self.browserEvent(), Self.browserEvent(ip: "2001:db8:aa:bb::1"), TestEvents.track()])
            #expect(try await harness.post("/v1/batch", json: body, headers: headers).status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(Self.context(received, event: 0)?["ip"] as? String == "198.51.100.0")
            #expect(Self.context(received, event: 1)?["ip"] as? String == "2001:db8:aa::")
            #expect(Self.context(received, event: 2)?["ip"] == nil)
            #expect(received.headers[values: .init("X-Forwarded-For")!] == ["198.51.100.0"])
        }
        let configure5 = Self.shadow { configuration in configuration.ingress.trustedProxies = trusted; configuration.privacy.ip = .drop }
        try await GatewayHarness.with(configure5) { harness in
            let body = TestEvents.batch([Self.browserEvent(), Self.browserEvent(ip: "203.0.113.9")], extra: #","context":{"ip":"192.0.2.1"}"#)
            #expect(try await harness.post("/v1/batch", json: body, headers: headers).status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(received.events.count == 2)
            #expect(received.events.allSatisfy { ($0["context"] as? [String: Any])?["ip"] == nil })
            let envelope = try #require(try JSONSerialization.jsonObject(with: Data(received.json)) as? [String: Any])
            #expect((envelope["context"] as? [String: Any])?["ip"] == nil)
            #expect(received.headers[values: .init("X-Forwarded-For")!].isEmpty)
            #expect(!String(decoding: received.json, as: UTF8.self).contains("198.51.100"))
        }
    }

    @Test func anAmbiguousAddressIsNotForwardedUnderTruncate() async throws {
        let configure6 = Self.shadow { configuration in configuration.privacy.ip = .truncate }
        try await GatewayHarness.with(configure6) { harness in
            let ambiguous = #"{"type":"track","event":"E","anonymousId":"a","context":{"ip":"1.2.3.4","IP":"5.6.7.8"}}"#
            let body = TestEvents.batch([ambiguous, Self.browserEvent()])
            #expect(try await harness.post("/v1/batch", json: body).status == 200)
            let received = try #require(harness.sink.received.first)
            #expect(received.events.count == 1)
            #expect(!String(decoding: received.json, as: UTF8.self).contains("5.6.7.8"))
            let metrics = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET)
            #expect(metrics.body.contains(#"consentgate_client_ip_edits_total{edit="dropped_event"} 1"#))
            #expect(metrics.body.contains(#"consentgate_client_ip_edits_total{edit="truncated"} 0"#))
            #expect(metrics.body.contains(#"consentgate_client_ip_edits_total{edit="filled"} 1"#))
        }
    }
}
