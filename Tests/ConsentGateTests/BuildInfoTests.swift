import ConsentGate
import Foundation
import SegmentWire
import Testing

/// What a running gateway says about itself: `consentgate --version`, the startup line, and
/// `consentgate_build_info{version, inflater}`.
@Suite(.timeLimit(.minutes(2)))
struct BuildInfoTests {
    @Test(arguments: [GatewayConfiguration.Ingress.InflaterChoice.libdeflate, .zlib])
    func theMetricNamesTheActiveInflater(choice: GatewayConfiguration.Ingress.InflaterChoice) async throws {
        try await GatewayHarness.with({ $0.ingress.inflater = choice }) { harness in
            let text = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET).body
            let samples = ObservabilityTests.samples(text)
            let expected = #"consentgate_build_info{version="\#(BuildInfo.version)",inflater="\#(choice.rawValue)"}"#
            #expect(samples[expected] == 1, "\(samples.keys.filter { $0.hasPrefix("consentgate_build_info") })")
            #expect(samples.keys.filter { $0.hasPrefix("consentgate_build_info") }.count == 1)
        }
    }

    @Test func theVersionFlagPrintsTheVersion() {
        let result = TestProcess.run([GatewayProcess.executable, "--version"])
        #expect(result.exitCode == 0)
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines) == BuildInfo.version)
        #expect(BuildInfo.version.split(separator: ".").count == 3)
    }

    @Test func theStartupLineNamesTheVersionAndTheInflater() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("buildinfo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gateway = try GatewayProcess(
            yaml: """
                ingress: {host: 127.0.0.1, port: 0, inflater: zlib}
                admin: {host: 127.0.0.1, port: 0}
                store: {kind: sqlite, sqlite: {path: "\(directory)/consent.sqlite"}}
                audit: {path: "", hmac_key: k}
                log: {level: info, format: json}
                """,
            directory: directory)
        try await gateway.waitUntilListening()
        let line = try #require(gateway.log.split(separator: "\n").first { $0.contains(#""message":"consentgate starting""#) })
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let metadata = object?["metadata"] as? [String: String]
        #expect(metadata?["inflater"] == "zlib")
        #expect(metadata?["version"] == BuildInfo.version)
        #expect(await gateway.stop() == 0)
    }
}
