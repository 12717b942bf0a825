import ConsentCore
import FoundationEssentials
import SegmentWire
import Testing

/// ``StampGrants``: a request's stamps as masks over the cache's category bits.
@Suite struct StampGrantsTests {
    private func resolver(knowing preferences: [CategoryPreference]) async -> ConsentResolver {
        let store = FakeStore([ConsentRecord(subject: "u", preferences: preferences, version: 1, updatedAt: Date(timeIntervalSince1970: 0))])
        let resolver = ConsentResolver(store: store, clock: FakeClock().closure, rng: SeededRNG())
        _ = await resolver.resolve(subject: "u")  // gives the record's granted categories their bits
        return resolver
    }

    private func scan(_ stamps: [String]) throws -> ScannedRequest {
        let events = stamps.map { #"{"type":"identify","userId":"u","context":{"consent":{"categoryPreferences":"# + $0 + "}}}" }
        return try Array((#"{"batch":["# + events.joined(separator: ",") + "]}").utf8).withUnsafeBytes {
            try BatchScanner().scan($0, route: .batch)
        }
    }

    @Test func eachStampIsTheMaskOfWhatItGrants() async throws {
        let resolver = await resolver(knowing: stamp(["Analytics": true, "Advertising": true]))
        let bits = resolver.categoryBits(["Analytics", "Advertising"]).map { UInt64(1) << $0! }
        let request = try scan([
            #"{"Analytics":true,"Advertising":false}"#, #"{"Advertising":true,"Analytics":true}"#,
            #"{"Analytics":true,"Advertising":false}"#, #"{"Analytics":true,"Unheard":true}"#, #"{"Unheard":false}"#,
        ])
        var grants = try #require(StampGrants(request, resolver: resolver))
        let masks = request.events.map { grants.grants(of: $0.stamp!) }
        #expect(masks == [bits[0], bits[0] | bits[1], bits[0], nil, 0])
    }

    @Test func aRequestNamingMoreCategoriesThanHaveBitsComparesByName() async throws {
        let resolver = await resolver(knowing: stamp(["Analytics": true]))
        let many = "{" + (0...CategoryIDs.capacity).map { #""c\#($0)":false"# }.joined(separator: ",") + "}"
        #expect(StampGrants(try scan([many]), resolver: resolver) == nil)
        #expect(StampGrants(try scan([#"{"Analytics":true}"#]), resolver: resolver) != nil)
    }
}
