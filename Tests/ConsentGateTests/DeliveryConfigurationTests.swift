import Testing

@testable import ConsentGate

/// `delivery.*`: defaults that leave relay mode as it was, every key read and checked, byte sizes with
/// units, and the startup summary.
@Suite struct DeliveryConfigurationTests {
    private func load(_ yaml: String, environment: [String: String] = [:]) async throws -> GatewayConfiguration {
        try await StoreConfigurationTests.load(yaml, environment: environment)
    }

    private func refused(_ yaml: String, key: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            _ = try await load(yaml)
            Issue.record("\(yaml) must be refused", sourceLocation: sourceLocation)
        } catch let error as ConfigurationError {
            #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func theDefaultsRelay() async throws {
        let delivery = try await load("ingress: {port: 8080}").delivery
        #expect(delivery == GatewayConfiguration.Delivery())
        #expect(delivery.mode == .relay)
        #expect(delivery.spool.path == "data/spool" && delivery.spool.commitIntervalMilliseconds == 2 && delivery.spool.maxBytes == 1 << 30)
        #expect(delivery.maxInFlight == 16 && delivery.retry.initialSeconds == 1 && delivery.retry.maxSeconds == 60 && delivery.maxAgeHours == 72)
    }

    @Test func everyKeyIsRead() async throws {
        let delivery = try await load("""
            delivery:
              mode: spool
              spool: {path: /var/lib/consentgate/spool, commit_interval_ms: 5, max_bytes: 268435456}
              max_in_flight: 4
              retry: {initial_seconds: 0.5, max_seconds: 30}
              max_age_hours: 24
            """).delivery
        #expect(delivery.mode == .spool)
        #expect(delivery.spool.path == "/var/lib/consentgate/spool")
        #expect(delivery.spool.commitIntervalMilliseconds == 5)
        #expect(delivery.spool.maxBytes == 268_435_456)
        #expect(delivery.maxInFlight == 4)
        #expect(delivery.retry.initialSeconds == 0.5 && delivery.retry.maxSeconds == 30)
        #expect(delivery.maxAgeHours == 24)
        let spool = delivery.spoolConfiguration()
        #expect(spool.directory == "/var/lib/consentgate/spool" && spool.maxBytes == 268_435_456 && spool.commitInterval == .milliseconds(5))
    }

    @Test func theEnvironmentOverridesTheMode() async throws {
        let delivery = try await load("delivery: {mode: relay}", environment: ["CONSENTGATE_DELIVERY_MODE": "spool"]).delivery
        #expect(delivery.mode == .spool)
    }

    static let sizes: [(String, Int64)] = [
        ("1073741824", 1 << 30), ("512MiB", 512 << 20), ("512 MiB", 512 << 20), ("1GiB", 1 << 30), ("64KiB", 64 << 10),
        ("2g", 2 << 30), ("500MB", 500_000_000), ("1TiB", 1 << 40), ("4096b", 4096),
    ]

    @Test(arguments: sizes)
    func byteSizes(text: String, bytes: Int64) async throws {
        #expect(GatewayConfiguration.Delivery.parseBytes(text) == bytes)
        #expect(try await load("delivery: {spool: {max_bytes: \(text)}}").delivery.spool.maxBytes == bytes)
    }

    @Test func badValuesNameTheirKey() async {
        await refused("delivery: {mode: disk}", key: "delivery.mode")
        await refused("delivery: {mode: spool, spool: {path: \"\"}}", key: "delivery.spool.path")
        await refused("delivery: {spool: {max_bytes: lots}}", key: "delivery.spool.max_bytes")
        await refused("delivery: {spool: {max_bytes: 1PiB}}", key: "delivery.spool.max_bytes")
        await refused("delivery: {spool: {max_bytes: 100}}", key: "delivery.spool.max_bytes")
        await refused("delivery: {spool: {max_bytes: 99999999999999999999}}", key: "delivery.spool.max_bytes")
        await refused("delivery: {spool: {commit_interval_ms: -1}}", key: "delivery.spool.commit_interval_ms")
        await refused("delivery: {spool: {commit_interval_ms: 5000}}", key: "delivery.spool.commit_interval_ms")
        await refused("delivery: {max_in_flight: 0}", key: "delivery.max_in_flight")
        await refused("delivery: {retry: {initial_seconds: 0}}", key: "delivery.retry.initial_seconds")
        await refused("delivery: {retry: {initial_seconds: 10, max_seconds: 5}}", key: "delivery.retry.max_seconds")
        await refused("delivery: {max_age_hours: 0}", key: "delivery.max_age_hours")
        await refused("delivery: {max_age_hours: soon}", key: "delivery.max_age_hours")
    }

    @Test func theStartupSummaryShowsTheSection() async throws {
        let text = try await load("delivery: {mode: spool, spool: {max_bytes: 1MiB}}").redactedDescription
        #expect(text.contains("delivery:\n  mode: spool\n  spool:\n    path: \"data/spool\"\n    commit_interval_ms: 2\n    max_bytes: 1048576\n"))
        #expect(text.contains("  max_in_flight: 16\n  retry:\n    initial_seconds: 1.0\n    max_seconds: 60.0\n  max_age_hours: 72.0\n"))
    }
}
