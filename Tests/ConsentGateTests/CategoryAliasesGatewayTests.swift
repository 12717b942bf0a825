@testable import ConsentGate
import Foundation
import Testing

/// `store.category_aliases`: read from the file (a mapping) or the environment (a list), and applied
/// before the cache while the consent API keeps the store's own ids.
@Suite(.timeLimit(.minutes(2)))
struct CategoryAliasesGatewayTests {
    @Test func readsAMappingOrAListAndTheEnvironmentWins() throws {
        let yaml = "store:\n  kind: sqlite\n  category_aliases:\n    C0002: Analytics\n    C0004: Advertising\n"
        #expect(try GatewayConfiguration.load(yaml: yaml, environment: [:]).store.categoryAliases == ["C0002": "Analytics", "C0004": "Advertising"])
        #expect(
            try GatewayConfiguration.load(yaml: "store: {category_aliases: [\"C0002: Analytics\"]}", environment: [:]).store.categoryAliases
                == ["C0002": "Analytics"])
        let overridden = try GatewayConfiguration.load(yaml: yaml, environment: ["CONSENTGATE_STORE_CATEGORY_ALIASES": "C0009:Functional"])
        #expect(overridden.store.categoryAliases == ["C0009": "Functional"])
        #expect(try GatewayConfiguration.load(yaml: "", environment: [:]).store.categoryAliases.isEmpty)
        #expect(throws: ConfigurationError.self) { try GatewayConfiguration.load(yaml: "store: {category_aliases: [nocolon]}", environment: [:]) }
        #expect(throws: ConfigurationError.self) { try GatewayConfiguration.load(yaml: "store: {category_aliases: {C1: \"\"}}", environment: [:]) }
        #expect(try GatewayConfiguration.load(yaml: yaml, environment: [:]).redactedDescription.contains("    \"C0002\": \"Analytics\""))
    }

    @Test func theCacheSeesStampNamesWhileTheConsentAPIShowsTheStoresIds() async throws {
        try await GatewayHarness.with({ $0.store.categoryAliases = ["C0002": "Analytics", "C0004": "Advertising", "C0005": "Advertising"] }) {
            harness in
            let put = try await harness.putConsent("user-1", ["C0002": true, "C0004": true, "C0005": true])
            #expect(put.status == 200)
            #expect(put.body.contains(#""C0002":true"#), "the API answers in the store's ids")
            let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)")]
            let read = try await harness.send(harness.admin + "/consent/subjects/user-1", body: nil, headers: auth, method: .GET)
            #expect(read.body.contains(#""C0004":true"#) && !read.body.contains("Advertising"))

            let batch = TestEvents.batch([TestEvents.track(userId: "user-1", anonymousId: nil, stamp: ["Advertising": true, "Analytics": true])])
            #expect(try await harness.post("/v1/batch", json: batch).status == 200)
            #expect(harness.sink.received.count == 1, "C0002/C0004/C0005 read as Analytics and Advertising: consistent")

            // One of the two ids behind Advertising withdraws: AND denies the name.
            _ = try await harness.putConsent("user-1", ["C0002": true, "C0004": true, "C0005": false])
            harness.sink.reset()
            #expect(try await harness.post("/v1/batch", json: batch).status == 200)
            #expect(harness.sink.received.isEmpty, "Advertising is denied when either of its ids is")
        }
    }
}
