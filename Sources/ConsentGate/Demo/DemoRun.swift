import AsyncHTTPClient
import ConsentCore
import FoundationEssentials
public import Logging
import NIOCore
import NIOHTTP1
import SegmentWire

/// `consentgate demo`: the gateway end to end, offline.
///
/// Starts a local recorder in place of Segment and a ``Gateway`` on free loopback ports with a
/// fresh SQLite store and audit log in a temporary directory, seeds a few made-up users through the
/// consent API, posts one batch per kind of stamp, and reports what the gateway
/// decided (its audit log) and what reached "Segment" (the recorder). Everything started is stopped,
/// and the directory removed, before it returns.
public enum DemoRun {
    /// Runs the demo.
    /// - Parameter logger: For the gateway and the recorder; at `warning` the run is silent.
    public static func run(logger: Logger) async throws -> DemoReport {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("consentgate-demo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let upstream = try await RecordingUpstream.start(logger: logger)
        let configuration = configuration(directory: directory, upstream: upstream.url)
        let gateway = Gateway(configuration: configuration, logger: logger)
        let (listening, continuation) = AsyncStream.makeStream(of: GatewayAddresses.self)
        let gatewayService = BackgroundService(
            ClosureService {
                // If the gateway fails to start, the stream ends and the failure is read below.
                defer { continuation.finish() }
                try await gateway.run(handleSignals: false) { continuation.yield($0) }
            },
            logger: logger)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)

        do {
            var iterator = listening.makeAsyncIterator()
            guard let addresses = await iterator.next() else {
                try await gatewayService.stop()
                throw DemoError("the gateway stopped before it listened")
            }
            let session = Session(client: client, addresses: addresses, token: configuration.admin.token)
            for seed in DemoScenario.seeds {
                try await session.seed(seed)
            }
            var statuses: [String: Int] = [:]
            for demoCase in DemoScenario.cases {
                statuses[demoCase.messageId] = try await session.post(demoCase)
            }
            let report = try report(statuses: statuses, auditPath: configuration.audit.path, received: upstream.received)
            await shutdown(client, gatewayService, upstream)
            return report
        } catch {
            await shutdown(client, gatewayService, upstream)
            throw error
        }
    }

    /// The gateway's configuration: the defaults of `config/consentgate.yaml`, on free loopback ports.
    private static func configuration(directory: String, upstream: String) -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.ingress.port = 0
        configuration.admin.port = 0
        configuration.admin.token = randomToken()
        configuration.upstream.url = upstream
        configuration.upstream.timeoutSeconds = 5
        configuration.store.sqlitePath = directory + "/consent.sqlite"
        configuration.audit.path = directory + "/audit.jsonl"
        configuration.audit.hmacKey = "consentgate-demo"
        // The shipped configuration file restamps unstamped events (the library's default drops them).
        configuration.policy.rules.onMissingStamp = .restamp
        return configuration
    }

    private static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    }

    /// Stops everything the run started, gateway before upstream, as a deployment would.
    private static func shutdown(_ client: HTTPClient, _ gateway: BackgroundService, _ upstream: RecordingUpstream) async {
        try? await client.shutdown()
        try? await gateway.stop()
        await upstream.stop()
    }

    // MARK: - Reading the results

    private static func report(statuses: [String: Int], auditPath: String, received: [RecordingUpstream.Received]) throws -> DemoReport {
        let audited = try auditRecords(auditPath)
        let forwarded = forwardedStamps(received)
        let truths = Dictionary(DemoScenario.seeds.map { ($0.user, $0.preferences) }, uniquingKeysWith: { _, last in last })
        let rows = DemoScenario.cases.map { demoCase in
            let audit = audited[demoCase.messageId]
            let outcome: DemoOutcome
            switch forwarded[demoCase.messageId] {
            case nil:
                outcome = .dropped
            case .some(let stamp) where stamp == demoCase.stamp:
                outcome = .forwarded
            case .some(let stamp):
                outcome = .restamped(granted: granted(stamp ?? [:]))
            }
            return DemoRow(
                name: demoCase.name,
                user: demoCase.user,
                event: demoCase.type == "track" ? demoCase.event : "\(demoCase.type) \(demoCase.event)",
                stampSent: demoCase.stamp.map(granted),
                truth: truths[demoCase.user].map(granted),
                // Only events not forwarded unchanged are audited; the others passed as consistent
                // or, for a consent change, as one that granted no more than the store.
                verdict: audit?.verdict ?? (demoCase.event == DemoScenario.preferenceUpdated ? "preference_update" : "consistent"),
                over: audit?.over ?? [],
                under: audit?.under ?? [],
                status: statuses[demoCase.messageId] ?? 0,
                outcome: outcome
            )
        }
        return DemoReport(rows: rows)
    }

    private static func granted(_ preferences: [String: Bool]) -> [String] {
        preferences.filter(\.value).map(\.key).sorted()
    }

    /// The fields of an audit record the table shows.
    private struct AuditLine: Decodable {
        var messageId: String?
        var verdict: String
        var action: String
        var over: [String]
        var under: [String]

        enum CodingKeys: String, CodingKey {
            case messageId = "message_id"
            case verdict, action, over, under
        }
    }

    /// The audit log's records by message id.
    private static func auditRecords(_ path: String) throws -> [String: AuditLine] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var records: [String: AuditLine] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let record = try JSONDecoder().decode(AuditLine.self, from: Data(line))
            if let messageId = record.messageId { records[messageId] = record }
        }
        return records
    }

    /// What reached the recorder: each event's stamp (`nil` for none) by message id.
    private static func forwardedStamps(_ received: [RecordingUpstream.Received]) -> [String: [String: Bool]?] {
        struct Body: Decodable {
            var batch: [Event]?
        }
        struct Event: Decodable {
            var messageId: String?
            var context: Context?
        }
        struct Context: Decodable {
            var consent: Consent?
        }
        struct Consent: Decodable {
            var categoryPreferences: [String: Bool]?
        }
        var stamps: [String: [String: Bool]?] = [:]
        for request in received {
            guard let body = try? JSONDecoder().decode(Body.self, from: Data(request.body)) else { continue }
            for event in body.batch ?? [] {
                guard let messageId = event.messageId else { continue }
                stamps[messageId] = .some(event.context?.consent?.categoryPreferences)
            }
        }
        return stamps
    }
}

extension DemoRun {
    /// The demo's HTTP calls to the running gateway.
    private struct Session {
        let client: HTTPClient
        let addresses: GatewayAddresses
        let token: String

        /// Stores a user's consent through the consent API.
        func seed(_ seed: DemoScenario.Seed) async throws {
            var body: [UInt8] = Array(#"{"categoryPreferences":"#.utf8)
            appendPreferences(seed.preferences, to: &body)
            body.append(UInt8(ascii: "}"))
            let status = try await send(
                "http://127.0.0.1:\(addresses.adminPort)/consent/subjects/\(seed.user)", method: .PUT, body: body,
                headers: [("Authorization", "Bearer \(token)")])
            guard status == 200 else { throw DemoError("seeding a demo user through the consent API answered \(status)") }
        }

        /// Posts the case's event as a batch of one; returns the HTTP status.
        func post(_ demoCase: DemoScenario.Case) async throws -> Int {
            var event: [UInt8] = Array(#"{"type":"#.utf8)
            JSONString.appendQuoted(demoCase.type, to: &event)
            event.append(contentsOf: (demoCase.type == "track" ? #","event":"# : #","name":"#).utf8)
            JSONString.appendQuoted(demoCase.event, to: &event)
            event.append(contentsOf: #","userId":"#.utf8)
            JSONString.appendQuoted(demoCase.user, to: &event)
            event.append(contentsOf: #","messageId":"#.utf8)
            JSONString.appendQuoted(demoCase.messageId, to: &event)
            event.append(contentsOf: #","timestamp":"#.utf8)
            JSONString.appendQuoted(Date.now.formatted(.iso8601), to: &event)
            if let stamp = demoCase.stamp {
                event.append(contentsOf: #","context":{"consent":{"categoryPreferences":"#.utf8)
                appendPreferences(stamp, to: &event)
                event.append(contentsOf: "}}".utf8)
            }
            event.append(UInt8(ascii: "}"))
            var body: [UInt8] = Array(#"{"writeKey":"demo-write-key","batch":["#.utf8)
            body.append(contentsOf: event)
            body.append(contentsOf: "]}".utf8)
            return try await send("http://127.0.0.1:\(addresses.ingressPort)/v1/batch", method: .POST, body: body, headers: [])
        }

        private func appendPreferences(_ preferences: [String: Bool], to out: inout [UInt8]) {
            out.append(UInt8(ascii: "{"))
            for (index, category) in preferences.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.appendQuoted(category, to: &out)
                out.append(contentsOf: (preferences[category] == true ? ":true" : ":false").utf8)
            }
            out.append(UInt8(ascii: "}"))
        }

        private func send(_ url: String, method: HTTPMethod, body: [UInt8], headers: [(String, String)]) async throws -> Int {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Content-Type", value: "application/json")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        }
    }
}
