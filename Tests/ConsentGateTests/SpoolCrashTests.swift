import Foundation
import NIOConcurrencyHelpers
import Spool
import Testing
import WireTestSupport

/// Crash safety of `delivery.mode: spool` with the real binary: SIGKILL at random points under load,
/// round after round (Segment down for most of them, so the spool fills and must survive every kill),
/// then a last start with Segment back: every event acknowledged with 200 reaches Segment at least once,
/// and nothing else does — no over-granted or unknown-subject event, nothing never sent.
@Suite(.timeLimit(.minutes(3)))
struct SpoolCrashTests {
    static let token = "t"

    /// The binary in spool mode on `directory`'s spool, with quick retries.
    static func yaml(directory: String, sink: SegmentSink) -> String {
        """
        ingress: {host: 127.0.0.1, port: 0}
        upstream: {url: "\(sink.url)", ca_file: "\(TestCertificates.files.ca)", timeout_seconds: 3, connect_timeout_seconds: 1}
        admin: {host: 127.0.0.1, port: 0, token: \(token)}
        store: {sqlite: {path: "\(directory)/consent.sqlite"}}
        audit: {path: "\(directory)/audit.jsonl", hmac_key: k}
        log: {level: info, format: json}
        shutdown: {grace_seconds: 5}
        delivery:
          mode: spool
          spool: {path: "\(directory)/spool", commit_interval_ms: 2}
          retry: {initial_seconds: 0.05, max_seconds: 0.5}
        """
    }

    /// Starts the binary and waits until it listens; kills it when it does not, so a failed start leaves
    /// no process behind.
    static func start(_ yaml: String, directory: String) async throws -> GatewayProcess {
        let gateway = try GatewayProcess(yaml: yaml, directory: directory)
        do {
            try await gateway.waitUntilListening()
        } catch {
            _ = await gateway.stop(signal: SIGKILL)
            throw error
        }
        return gateway
    }

    /// Stores every known subject's truth through the binary's consent API.
    static func store(_ subjects: [String], admin: String) async throws {
        let body = #"{"categoryPreferences":\#(TestEvents.preferences(LedgerPlan.truth))}"#
        for subject in subjects {
            let reply = try await HarnessClient.shared.send(
                admin + "/consent/subjects/" + subject, method: "PUT", body: body, headers: ["Authorization": "Bearer \(token)"])
            #expect(reply.status == 200, "\(reply.body)")
        }
    }

    /// What the clients sent and which requests were answered 200.
    final class Ledger: Sendable {
        private let state = NIOLockedValueBox((next: 0, acknowledged: Set<Int>(), sent: Set<Int>()))
        let plan: LedgerPlan

        init(_ plan: LedgerPlan) { self.plan = plan }

        /// The next batch to send, `nil` when the plan is used up.
        func take() -> Int? {
            state.withLockedValue { state in
                guard state.next < plan.batches.count else { return nil }
                defer { state.next += 1 }
                state.sent.insert(state.next)
                return state.next
            }
        }

        func acknowledge(_ index: Int) { state.withLockedValue { _ = $0.acknowledged.insert(index) } }

        var acknowledged: Set<Int> { state.withLockedValue { $0.acknowledged } }
        var sent: Set<Int> { state.withLockedValue { $0.sent } }
    }

    /// `clients` concurrent senders, each posting the plan's next batch until the gateway stops answering.
    static func load(_ ledger: Ledger, ingress: String, clients: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    while let index = ledger.take() {
                        guard let reply = try? await HarnessClient.shared.send(
                            ingress + "/v1/batch", method: "POST", body: LedgerPlan.body(ledger.plan.batches[index]))
                        else { return }  // the gateway is gone
                        if reply.status == 200 { ledger.acknowledge(index) }
                    }
                }
            }
        }
    }

    @Test func sigkillUnderLoadLosesNothingAcknowledged() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = try await SegmentSink.start()
        let plan = LedgerPlan("crash", batches: 1500)
        let ledger = Ledger(plan)
        var random = SplitMix64(seed: UInt64(ContinuousClock.now.hashValue.magnitude))
        let rounds = 5
        let running = NIOLockedValueBox<GatewayProcess?>(nil)
        do {
            for round in 0..<rounds {
                // Segment is down for the first rounds: the spool must carry what they acknowledge.
                if round == 1 { await sink.stop() }
                if round == rounds - 1 { try await sink.resume() }
                let gateway = try await Self.start(Self.yaml(directory: directory, sink: sink), directory: directory)
                running.withLockedValue { $0 = gateway }
                if round == 0 { try await Self.store(plan.knownSubjects, admin: gateway.admin) }
                let load = Task { await Self.load(ledger, ingress: gateway.ingress, clients: 6) }
                try await Task.sleep(for: .milliseconds(Int64.random(in: 150...900, using: &random)))
                _ = await gateway.stop(signal: SIGKILL)
                await load.value
                #expect(gateway.log.contains("consentgate starting"))
            }
            #expect(ledger.acknowledged.count >= 10, "the load got answers before the kills: \(ledger.acknowledged.count)")
            #expect(ledger.sent.count > ledger.acknowledged.count || ledger.sent.count == plan.batches.count)

            // The last start, Segment up: everything acknowledged is delivered.
            let gateway = try await Self.start(Self.yaml(directory: directory, sink: sink), directory: directory)
            running.withLockedValue { $0 = gateway }
            let acknowledged = Set(ledger.acknowledged.flatMap { plan.batches[$0].filter { $0.kind == .consistent }.map(\.messageId) })
            let mayArrive = Set(ledger.sent.flatMap { plan.batches[$0].filter { $0.kind == .consistent }.map(\.messageId) })
            let arrived = await SpoolGatewayTests.eventually(within: .seconds(40)) {
                Set(SpoolGatewayTests.accepted(sink).keys).isSuperset(of: acknowledged)
            }
            let accepted = Set(SpoolGatewayTests.accepted(sink).keys)
            #expect(arrived, "acknowledged but never delivered: \(acknowledged.subtracting(accepted).sorted().prefix(10))")
            #expect(accepted.isSubset(of: mayArrive), "arrived though never sent or not consistent: \(accepted.subtracting(mayArrive).sorted().prefix(10))")
            let inconsistent = sink.received.flatMap(\.messageIds).filter { !$0.hasSuffix("-consistent") }
            #expect(inconsistent.isEmpty, "an inconsistent event reached Segment: \(inconsistent.prefix(5))")
            let drained = await SpoolGatewayTests.eventually { (try? SpoolLog.inspect(directory: directory + "/spool").batches) == 0 }
            #expect(drained, "the spool empties")
            #expect(await gateway.stop(signal: SIGTERM) == 0, "a graceful stop exits 0:\n\(gateway.log.suffix(2000))")
            let duplicates = SpoolGatewayTests.accepted(sink).values.filter { $0 > 1 }.count
            print("spool crash: \(rounds) SIGKILLs, \(ledger.sent.count) batches sent, \(ledger.acknowledged.count) acknowledged, "
                + "\(accepted.count) consistent events delivered, \(duplicates) delivered more than once")
        } catch {
            if let gateway = running.withLockedValue({ $0 }) { _ = await gateway.stop(signal: SIGKILL) }
            await sink.stop()
            throw error
        }
        await sink.stop()
    }
}
