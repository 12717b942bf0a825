import ConsentGate
import Testing

/// Loading `GatewayConfiguration` from YAML: keys, defaults, ranges.
@Suite struct GatewayConfigurationTests {
    private func load(_ yaml: String) async throws -> GatewayConfiguration {
        try await StoreConfigurationTests.load(yaml)
    }

    @Test func theGzipLevelOfReencodedBatches() async throws {
        #expect(try await load("upstream: {url: https://api.segment.io}").upstream.gzipLevel == 1)
        #expect(try await load("upstream: {gzip_level: 9}").upstream.gzipLevel == 9)
        for level in [0, 13, -1] {
            do {
                _ = try await load("upstream: {gzip_level: \(level)}")
                Issue.record("gzip_level \(level) must be refused")
            } catch let error as ConfigurationError {
                #expect(error.key == "upstream.gzip_level")
            }
        }
    }
}
