@testable import ConsentGate
import Testing

/// `SourceTable`: write key → source, with no sockets.
@Suite struct SourceTableTests {
    private func table(extra: [String] = []) throws -> SourceTable<String> {
        try SourceTable(
            defaultEntry: .init(name: "default", route: "top-level"),
            sources: [("eu-web", ["key-eu-1", "key-eu-2"], "eu-route"), ("us-web", ["key-us"], "us-route")],
            extraAllowed: extra)
    }

    @Test func aWriteKeyTakesItsSource() throws {
        let table = try table()
        #expect(table.select(writeKey: "key-eu-1").name == "eu-web")
        #expect(table.select(writeKey: "key-eu-2").route == "eu-route")
        #expect(table.select(writeKey: "key-us").name == "us-web")
        #expect(table.select(writeKey: "key-us").route == "us-route")
    }

    @Test func aKeyInNoSourceOrNoKeyTakesTheTopLevelSettings() throws {
        let table = try table(extra: ["key-app"])
        #expect(table.select(writeKey: "key-app").name == "default")
        #expect(table.select(writeKey: "key-app").route == "top-level")
        #expect(table.select(writeKey: "never-seen").name == "default")
        #expect(table.select(writeKey: nil).name == "default")
    }

    @Test func theAllowlistIsTheUnionOfIngressKeysAndEverySourcesKeys() throws {
        let table = try table(extra: ["key-app"])
        for key in ["key-app", "key-eu-1", "key-eu-2", "key-us"] { #expect(table.isAllowed(writeKey: key)) }
        #expect(!table.isAllowed(writeKey: "never-seen"))
        #expect(!table.isAllowed(writeKey: nil))
    }

    @Test func noKeysAnywhereAllowsEveryKeyAsBefore() throws {
        let table = try SourceTable<String>(defaultEntry: .init(name: "default", route: "top-level"), sources: [])
        #expect(table.isAllowed(writeKey: "anything"))
        #expect(table.isAllowed(writeKey: nil))
        #expect(table.select(writeKey: "anything").name == "default")
        #expect(table.allEntries.map(\.name) == ["default"])
    }

    @Test func aKeyInTwoSourcesNamesBothAndNotTheKey() {
        #expect(throws: SourceTable<Int>.BuildError(sources: ["eu-web", "us-web"])) {
            try SourceTable<Int>(
                defaultEntry: .init(name: "default", route: 0), sources: [("eu-web", ["shared-key"], 1), ("us-web", ["shared-key"], 2)])
        }
        let error = SourceTable<Int>.BuildError(sources: ["eu-web", "us-web"])
        #expect(error.description.contains("eu-web") && error.description.contains("us-web"))
    }

    @Test func aSourceMayRepeatItsOwnKey() throws {
        let table = try SourceTable<Int>(defaultEntry: .init(name: "default", route: 0), sources: [("eu", ["k", "k"], 1)])
        #expect(table.select(writeKey: "k").route == 1)
    }

    @Test func theTableOfAConfigurationCarriesEachSourcesEffectiveSettings() throws {
        var configuration = GatewayConfiguration()
        configuration.ingress.writeKeys = ["key-backend"]
        configuration.upstream.url = "https://api.segment.io"
        var euPolicy = configuration.policy
        euPolicy.rules.onUnknownSubject = .drop
        configuration.sources = [
            .init(name: "eu-web", writeKeys: ["key-eu"], policy: euPolicy, upstreamURL: "https://events.eu1.segmentapis.com")
        ]
        let table = try SourceTable<String>(configuration) { $0.upstreamURL }
        #expect(table.select(writeKey: "key-eu").route == "https://events.eu1.segmentapis.com")
        #expect(table.select(writeKey: "key-backend").route == "https://api.segment.io")
        #expect(table.select(writeKey: "key-backend").name == "default")
        #expect(table.isAllowed(writeKey: "key-backend") && table.isAllowed(writeKey: "key-eu") && !table.isAllowed(writeKey: "other"))
    }
}
