import AsyncHTTPClient
import ConsentGate
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A gateway running in-process on loopback ports, pointed at a ``SegmentSink``, with a plain
/// HTTP client to post to it. Stop it with ``stop()``: a graceful shutdown, the production order
/// (listeners first, then the upstream client and the store), and its temporary directory removed.
final class GatewayHarness: Sendable {
    let sink: SegmentSink
    let addresses: GatewayAddresses
    let configuration: GatewayConfiguration
    private let server: ServiceRunner
    /// The directory holding the harness's own store and audit log, removed by ``stop()``.
    private let directory: String
    let client: HTTPClient

    /// The admin token every harness uses.
    static let adminToken = "test-admin-token"

    var ingress: String { "http://127.0.0.1:\(addresses.ingressPort)" }
    var admin: String { "http://127.0.0.1:\(addresses.adminPort)" }

    private init(sink: SegmentSink, addresses: GatewayAddresses, configuration: GatewayConfiguration, server: ServiceRunner, directory: String) {
        self.sink = sink
        self.addresses = addresses
        self.configuration = configuration
        self.server = server
        self.directory = directory
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow, decompression: .disabled))
    }

    /// Starts a sink and a gateway; `configure` adjusts the configuration (ports are 0, upstream is the sink).
    /// Each harness gets its own SQLite store and audit log in a fresh directory, unless `configure`
    /// points them elsewhere.
    static func start(_ configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> GatewayHarness {
        let sink = try await SegmentSink.start()
        var configuration = GatewayConfiguration()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-\(UUID().uuidString)").path
        configuration.store.sqlitePath = directory + "/consent.sqlite"
        configuration.audit.path = directory + "/audit.jsonl"
        configuration.audit.hmacKey = "test-hmac-key"
        configuration.admin.token = adminToken
        configuration.ingress.port = 0
        configuration.admin.port = 0
        configuration.upstream.url = sink.url
        configuration.upstream.caFile = TestCertificates.files.ca
        configuration.upstream.timeoutSeconds = 5
        configure(&configuration)
        let (stream, continuation) = AsyncStream.makeStream(of: GatewayAddresses.self)
        var logger = Logger(label: "consentgate-test")
        logger.logLevel = .warning
        let gateway = Gateway(configuration: configuration, logger: logger)
        let server = ServiceRunner(
            [
                ClosureService {
                    defer { continuation.finish() }
                    try await gateway.run(handleSignals: false) { continuation.yield($0) }
                }
            ], logger: logger, grace: nil)
        var iterator = stream.makeAsyncIterator()
        guard let addresses = await iterator.next() else {
            // The gateway did not start (a bad setting, a port in use): its error, not a hang.
            await sink.stop()
            try? FileManager.default.removeItem(atPath: directory)
            try await server.value
            throw CancellationError()
        }
        return GatewayHarness(sink: sink, addresses: addresses, configuration: configuration, server: server, directory: directory)
    }

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String

        /// The `code` of a JSON error body.
        var code: String? {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["code"] as? String
        }
    }

    func post(_ path: String, body: [UInt8], headers: [(String, String)] = [("Content-Type", "application/json")], method: HTTPMethod = .POST) async throws -> Reply {
        try await send(ingress + path, body: body, headers: headers, method: method)
    }

    func post(_ path: String, json: String, headers: [(String, String)] = [("Content-Type", "application/json")]) async throws -> Reply {
        try await post(path, body: Array(json.utf8), headers: headers)
    }

    func send(_ url: String, body: [UInt8]?, headers: [(String, String)], method: HTTPMethod) async throws -> Reply {
        try await client.send(url, body: body, headers: headers, method: method)
    }

    /// Stores a subject's truth through the consent API.
    @discardableResult
    func putConsent(_ subject: String, _ preferences: [String: Bool]) async throws -> Reply {
        let body = #"{"categoryPreferences":\#(TestEvents.preferences(preferences))}"#
        let reply = try await send(
            admin + "/consent/subjects/" + subject.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
            body: Array(body.utf8), headers: [("Authorization", "Bearer \(Self.adminToken)"), ("Content-Type", "application/json")],
            method: .PUT)
        precondition(reply.status == 200, "PUT consent failed: \(reply.status) \(reply.body)")
        return reply
    }

    /// The audit log's records, parsed.
    var auditRecords: [[String: Any]] {
        guard let text = try? String(contentsOfFile: configuration.audit.path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Stops the client, the gateway (gracefully) and the sink, and removes the harness's directory.
    func stop() async {
        try? await client.shutdown()
        await server.stop()
        await sink.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension GatewayHarness {
    /// Shadow mode: every valid event is forwarded unchanged, for tests of the forwarding path itself.
    static let shadow: @Sendable (inout GatewayConfiguration) -> Void = { $0.policy.rules.mode = .shadow }

    /// Runs `body` against a fresh gateway and sink, stopping both afterwards whatever happens.
    static func with<T>(
        _ configure: (inout GatewayConfiguration) -> Void = { _ in },
        _ body: (GatewayHarness) async throws -> T
    ) async throws -> T {
        let harness = try await start(configure)
        do {
            let result = try await body(harness)
            await harness.stop()
            return result
        } catch {
            await harness.stop()
            throw error
        }
    }
}
