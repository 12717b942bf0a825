import ConsentGate
import SegmentWire
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

    @Test func theInflaterSwitch() async throws {
        #expect(try await load("ingress: {port: 8080}").ingress.inflater == .auto)
        #expect(try await load("ingress: {inflater: zlib}").ingress.inflater == .zlib)
        #expect(try await load("ingress: {inflater: libdeflate}").ingress.inflater == .libdeflate)
        // The environment overrides the file, as for every key.
        let forced = try await StoreConfigurationTests.load("ingress: {inflater: libdeflate}", environment: ["CONSENTGATE_INGRESS_INFLATER": "zlib"])
        #expect(forced.ingress.inflater == .zlib)
        #expect(forced.redactedDescription.contains("  inflater: zlib\n"))
        do {
            _ = try await load("ingress: {inflater: brotli}")
            Issue.record("inflater brotli must be refused")
        } catch let error as ConfigurationError {
            #expect(error.key == "ingress.inflater")
        }
    }

    @Test func theInflaterChoiceResolves() throws {
        #expect(try GatewayConfiguration.Ingress.InflaterChoice.zlib.resolve() == .zlib)
        #expect(try GatewayConfiguration.Ingress.InflaterChoice.auto.resolve() == DeflateLibrary.preferred)
        // scripts/test.sh installs libdeflate0, so it is required to load here.
        #expect(try GatewayConfiguration.Ingress.InflaterChoice.libdeflate.resolve() == .libdeflate)
    }
}
