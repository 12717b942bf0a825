@testable import ConsentGate
import ConsentCore
import Foundation
import Testing

/// `sources` in the configuration: read with Yams beside swift-configuration, validated, described.
@Suite struct SourcesConfigurationTests {
    static let twoRegions = """
        ingress:
          write_keys: [KEY_BACKEND]
        upstream:
          url: https://api.segment.io
        policy:
          on_unknown_subject: forward
          gpc_categories: [Advertising, DataSharing]
        sources:
          - name: eu-web
            write_keys: [KEY_EU]
            policy:
              on_unknown_subject: drop
              on_mismatch: restamp
            upstream:
              url: https://events.eu1.segmentapis.com
          - name: us-web
            write_keys: [KEY_US_1, KEY_US_2]
        """

    private func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigurationError) -> GatewayConfiguration {
        try GatewayConfiguration.load(yaml: yaml, environment: environment)
    }

    private func error(_ yaml: String) -> ConfigurationError? {
        do throws(ConfigurationError) {
            _ = try load(yaml)
            return nil
        } catch {
            return error
        }
    }

    @Test func eachSourceTakesTheTopLevelPolicyWithItsOwnKeys() throws {
        let configuration = try load(Self.twoRegions)
        #expect(configuration.sources.map(\.name) == ["eu-web", "us-web"])
        let eu = configuration.sources[0]
        #expect(eu.writeKeys == ["KEY_EU"])
        #expect(eu.policy.rules.onUnknownSubject == .drop)
        #expect(eu.policy.rules.onMismatch == .restamp)
        #expect(eu.policy.rules.gpcCategories == ["Advertising", "DataSharing"], "not named: inherited")
        #expect(eu.upstreamURL == "https://events.eu1.segmentapis.com")
        #expect(eu.overriddenPolicyKeys.sorted() == ["on_mismatch", "on_unknown_subject"])
        let us = configuration.sources[1]
        #expect(us.policy == configuration.policy)
        #expect(us.upstreamURL == "https://api.segment.io")
        #expect(configuration.policy.rules.onUnknownSubject == .forward, "the top level is untouched by a source")
    }

    @Test func theAllowlistIsTheUnionOfIngressAndSourceKeys() throws {
        let configuration = try load(Self.twoRegions)
        #expect(configuration.allowedWriteKeys == ["KEY_BACKEND", "KEY_EU", "KEY_US_1", "KEY_US_2"])
        #expect(configuration.defaultSource.name == "default")
        #expect(configuration.defaultSource.policy == configuration.policy)
    }

    @Test func theRestOfTheFileAndItsEnvironmentOverridesWorkBesideSources() throws {
        let configuration = try load(
            Self.twoRegions, environment: ["CONSENTGATE_UPSTREAM_URL": "https://example.test", "CONSENTGATE_POLICY_ON_MISMATCH": "restamp"])
        #expect(configuration.upstream.url == "https://example.test")
        #expect(configuration.policy.rules.onMismatch == .restamp)
        #expect(configuration.ingress.writeKeys == ["KEY_BACKEND"])
        #expect(configuration.sources[1].upstreamURL == "https://example.test", "a source without its own URL follows the overridden one")
        #expect(configuration.sources[1].policy.rules.onMismatch == .restamp)
    }

    @Test func aBadPolicyValueIsNamedByItsEntry() {
        let yaml = """
            sources:
              - name: a
                write_keys: [K1]
              - name: b
                write_keys: [K2]
                policy: {on_mismatch: explode}
            """
        #expect(error(yaml)?.key == "sources[1].policy.on_mismatch")
        #expect(error(yaml)?.problem.contains("drop | restamp") == true)
    }

    @Test func aWriteKeyInTwoSourcesNamesBothSourcesButNotTheKey() throws {
        let failure = try #require(
            error(
                """
                sources:
                  - {name: eu-web, write_keys: [SECRET_SHARED_KEY]}
                  - {name: us-web, write_keys: [OTHER, SECRET_SHARED_KEY]}
                """))
        #expect(failure.key == "sources[1].write_keys")
        #expect(failure.problem.contains("'eu-web' (sources[0])") && failure.problem.contains("'us-web' (sources[1])"))
        #expect(!failure.description.contains("SECRET_SHARED_KEY"))
    }

    @Test func namesAreRequiredUniqueAndNotTheReservedDefault() {
        #expect(error("sources: [{name: a, write_keys: [K1]}, {name: a, write_keys: [K2]}]")?.key == "sources[1].name")
        #expect(error("sources: [{write_keys: [K1]}]")?.key == "sources[0].name")
        #expect(error("sources: [{name: default, write_keys: [K1]}]")?.key == "sources[0].name")
        #expect(error("sources: [{name: \"eu web\", write_keys: [K1]}]")?.key == "sources[0].name")
        #expect(error("sources: [{name: a}]")?.key == "sources[0].write_keys")
        #expect(error("sources: [{name: a, write_keys: [K], upstream: {url: ftp://x}}]")?.key == "sources[0].upstream.url")
        #expect(error("sources: {name: a}")?.key == "sources")
        #expect(error("sources: [justastring]")?.key == "sources[0]")
        #expect(error("sources: [{name: a, write_keys: [K], policy: {gpc_categories: [{x: 1}]}}]")?.key == "sources[0].policy.gpc_categories")
    }

    @Test func noSourcesIsTodaysBehaviour() throws {
        #expect(try load("").sources.isEmpty)
        #expect(try load("sources: []").sources.isEmpty)
        let configuration = try load("ingress: {write_keys: [A]}")
        #expect(configuration.allowedWriteKeys == ["A"])
    }

    @Test func checkConfigPrintsEachSourcesEffectivePolicyWithKeysRedacted() throws {
        let text = try load(Self.twoRegions).redactedDescription
        #expect(!text.contains("KEY_EU") && !text.contains("KEY_US_1") && !text.contains("KEY_BACKEND"))
        #expect(text.contains("  - name: eu-web\n    write_keys: [<1 redacted>]"))
        #expect(text.contains("      url: \"https://events.eu1.segmentapis.com\"   # own"))
        #expect(text.contains("      on_unknown_subject: drop   # own"))
        #expect(text.contains("  - name: us-web\n    write_keys: [<2 redacted>]"))
        let us = try #require(text.range(of: "  - name: us-web"))
        #expect(text[us.lowerBound...].contains("      on_unknown_subject: forward\n"))
    }

    @Test func theShippedConfigurationStillValidates() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/consentgate.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        let configuration = try load(text)
        #expect(configuration.sources.isEmpty && configuration.admin.webhooks.isEmpty)
        #expect(configuration.upstream.url == "https://api.segment.io")
    }
}
