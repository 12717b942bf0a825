import ConsentCore
import Foundation
import Logging
import Prometheus
import SegmentWire
import Testing

@testable import ConsentGate

/// The parts of the source wiring that need no socket: the table's one-lookup selection, the per-source
/// metric label sets, one enforcer per source over a shared resolver, the shared forwarders, and the
/// source's name on audit records and feed entries.
@Suite struct SourceWiringTests {
    private func table(extra: [String] = []) throws -> SourceTable<String> {
        try SourceTable(
            defaultEntry: .init(name: "default", route: "top-level"),
            sources: [("eu-web", ["key-eu"], "eu-route"), ("us-web", ["key-us"], "us-route")],
            extraAllowed: extra)
    }

    // MARK: Selection

    @Test func anAllowedKeySelectsItsSourceInOneLookupAndAnyOtherKeyIsRefused() throws {
        let table = try table(extra: ["key-app"])
        #expect(table.checksWriteKeys)
        #expect(table.allowedEntry(writeKey: "key-eu")?.route == "eu-route")
        #expect(table.allowedEntry(writeKey: "key-us")?.name == "us-web")
        // A key of `ingress.write_keys` only is allowed and takes the top-level settings.
        #expect(table.allowedEntry(writeKey: "key-app")?.name == "default")
        #expect(table.allowedEntry(writeKey: "key-app")?.route == "top-level")
        #expect(table.allowedEntry(writeKey: "never-seen") == nil)
        // The one lookup agrees with `isAllowed` then `select` for every key.
        for key in ["key-eu", "key-us", "key-app", "never-seen"] {
            #expect((table.allowedEntry(writeKey: key) != nil) == table.isAllowed(writeKey: key))
            if let entry = table.allowedEntry(writeKey: key) { #expect(entry.name == table.select(writeKey: key).name) }
        }
    }

    @Test func withoutAnyWriteKeyTheTableChecksNothingAndEveryRequestTakesTheDefault() throws {
        let table = try SourceTable<String>(defaultEntry: .init(name: "default", route: "top-level"), sources: [])
        #expect(!table.checksWriteKeys)
        #expect(table.defaultEntry.route == "top-level")
        #expect(try self.table().checksWriteKeys)
        #expect(try SourceTable<String>(defaultEntry: .init(name: "default", route: ""), sources: [], extraAllowed: ["k"]).checksWriteKeys)
    }

    // MARK: Metric labels

    @Test func everySourceHasTheSameLabelNamesOnEachPerEventCounter() {
        let eu = GatewayMetrics.eventLabels(source: "eu-web")
        #expect(eu.count == GatewayMetrics.verdicts.count && eu.allSatisfy { $0.count == GatewayMetrics.actions.count })
        #expect(eu.joined().allSatisfy { $0.map(\.0) == ["source", "verdict", "action"] && $0[0].1 == "eu-web" })
        let mismatch = GatewayMetrics.mismatchLabels(source: "us-web", categories: ["Analytics"])
        #expect(mismatch.joined().map { $0.map(\.1) } == [
            ["us-web", "Analytics", "over"], ["us-web", "Analytics", "under"], ["us-web", "other", "over"], ["us-web", "other", "under"],
        ])
    }

    @Test func eachSourceCountsUnderItsOwnLabelFromTheStart() {
        // Different categories per source and a repeated name must not trap the registry.
        let metrics = GatewayMetrics(sources: [
            .init(name: "default", categories: ["Analytics"]), .init(name: "eu-web", categories: ["Analytics", "Advertising"]),
            .init(name: "eu-web", categories: ["Analytics", "Advertising"]),
        ])
        let unknownDrop = GatewayMetrics.eventIndexes(verdict: .unknownSubject, action: .drop)
        metrics.counters(source: "eu-web").events([unknownDrop, unknownDrop])
        metrics.counters(source: "eu-web").mismatch(over: ["Advertising"], under: [])
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"consentgate_events_total{source="eu-web",verdict="unknown_subject",action="drop"} 2"#))
        #expect(text.contains(#"consentgate_events_total{source="default",verdict="unknown_subject",action="drop"} 0"#))
        #expect(text.contains(#"consentgate_consent_mismatch_total{source="eu-web",category="Advertising",direction="over"} 1"#))
        #expect(text.contains(#"consentgate_consent_mismatch_total{source="default",category="other",direction="over"} 0"#))
        #expect(!text.contains(#"source="default",category="Advertising""#))
    }

    // MARK: One enforcer per source

    final class EmptyStore: ConsentStore {
        let kind = "memory"
        func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? { nil }
        func ping() async throws(ConsentStoreError) {}
        func close() async {}
    }

    @Test func eachSourcesEnforcerDecidesByItsOwnPolicyAndNamesItsSource() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wiring-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audit = try AuditLog(path: directory + "/audit.jsonl")
        let resolver = ConsentResolver(
            store: EmptyStore(), configuration: .init(capacity: 100), clock: { ContinuousClock.now }, rng: SystemRandomNumberGenerator())
        let metrics = GatewayMetrics(sources: [.init(name: "eu-web", categories: []), .init(name: "us-web", categories: [])])
        let feed = DecisionFeed()
        _ = feed.json(cache: resolver.statistics, name: { $0 })  // watched: decisions are sampled
        func enforcer(_ source: String, _ onUnknown: ConsentPolicy.OnUnknownSubject) -> ConsentEnforcer {
            ConsentEnforcer(
                resolver: resolver, policy: ConsentPolicy(onUnknownSubject: onUnknown), maxStaleGrant: .seconds(30), audit: audit,
                hasher: SubjectHasher(key: "k"), metrics: metrics, feed: feed, logger: Logger(label: "test"), source: source)
        }
        let eu = enforcer("eu-web", .drop), us = enforcer("us-web", .forward)
        let body = RequestBytes.inflated(Array(TestEvents.batch([TestEvents.track(userId: "stranger", stamp: ["Analytics": true])]).utf8))
        let request = try body.withBytes { bytes in try BatchScanner().scan(bytes, route: .batch) }
        let subjects = body.withBytes { EventSubject.extract(from: request, body: $0) }

        let dropped = await eu.enforce(request, subjects: subjects, body: body, gpc: false, requestId: "r-eu")
        let forwarded = await us.enforce(request, subjects: subjects, body: body, gpc: false, requestId: "r-us")
        #expect(dropped.edits == [.drop])
        #expect(forwarded.keepsEverything)
        audit.close()

        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"consentgate_events_total{source="eu-web",verdict="unknown_subject",action="drop"} 1"#))
        #expect(text.contains(#"consentgate_events_total{source="us-web",verdict="unknown_subject",action="forward"} 1"#))
        #expect(text.contains(#"consentgate_events_total{source="us-web",verdict="unknown_subject",action="drop"} 0"#))
        let records = try String(contentsOfFile: directory + "/audit.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(records.count == 1, "only the dropped event is audited")
        #expect(records.first?.contains(#""request_id":"r-eu","source":"eu-web""#) == true)
        let view = String(decoding: feed.json(cache: resolver.statistics, name: { $0 }), as: UTF8.self)
        #expect(view.contains(#""source":"eu-web""#) && view.contains(#""source":"us-web""#))
    }

    // MARK: Forwarders

    @Test func sourcesWithOneUpstreamURLShareOneForwarder() async throws {
        var upstream = GatewayConfiguration.Upstream()
        upstream.url = "http://127.0.0.1:9"
        let forwarders = try await UpstreamForwarders.open(
            urls: ["http://127.0.0.1:9", "http://127.0.0.1:10", "http://127.0.0.1:9"], upstream: upstream)
        #expect(forwarders.all.count == 2)
        #expect(forwarders.forwarder(url: "http://127.0.0.1:9") === forwarders.all[0])
        #expect(forwarders.forwarder(url: "http://127.0.0.1:10") === forwarders.all[1])
        #expect(forwarders.all.map(\.upstreamDescription) == ["http://127.0.0.1:9", "http://127.0.0.1:10"])
        #expect(forwarders.isOpen)
        await forwarders.shutdown()
        #expect(!forwarders.isOpen)
    }
}
