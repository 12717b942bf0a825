import Foundation
import SegmentWire
import Spool
import Testing

/// The "done when", with the real `segment-analytics-python` SDK: with `max_retries=0` (it never
/// retries), it sends through the real binary in spool mode while the Segment stand-in is down, the
/// gateway is SIGKILLed in the middle of a send and restarted, and more is sent; once the stand-in is back,
/// every event the SDK was answered 200 for arrives, and no inconsistent event ever does.
///
/// The outage lasts `CONSENTGATE_SPOOL_OUTAGE_SECONDS` (15 by default; the two minutes is
/// `CONSENTGATE_SPOOL_OUTAGE_SECONDS=120`, run by hand with a longer time limit: it is not part of the suite's budget).
@Suite(.timeLimit(.minutes(5)))
struct SpoolSDKTests {
    static var outage: Duration {
        .seconds(Int(ProcessInfo.processInfo.environment["CONSENTGATE_SPOOL_OUTAGE_SECONDS"] ?? "") ?? 15)
    }

    /// `count` events: two in three agree with the truth, one in three over-grants `Advertising`, every
    /// fifth names a subject the store does not know.
    static func plan(_ name: String, count: Int) -> (events: [PythonSDK.PlannedEvent], consistent: Set<String>, known: [String]) {
        let truth = LedgerPlan.truth
        var consistent: Set<String> = []
        let events = (0..<count).map { index in
            let messageId = "\(name)-\(index)"
            if index % 5 == 4 {
                return PythonSDK.PlannedEvent(user_id: "\(name)-stranger-\(index)", stamp: truth, message_id: messageId)
            }
            var stamp = truth
            if index % 3 == 0 { stamp["Advertising"] = true } else { consistent.insert(messageId) }
            return PythonSDK.PlannedEvent(user_id: "\(name)-user-\(index % 8)", stamp: stamp, message_id: messageId)
        }
        return (events, consistent, (0..<8).map { "\(name)-user-\($0)" })
    }

    @Test func theSDKNeverRetriesYetNothingAcknowledgedIsLostAcrossAnOutageAndAKill() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-sdk-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = try await SegmentSink.start()
        var current: GatewayProcess?
        do {
            let (first, firstConsistent, known) = Self.plan("sdk-spool-a", count: 400)
            let (second, secondConsistent, _) = Self.plan("sdk-spool-b", count: 120)
            let yaml = SpoolCrashTests.yaml(directory: directory, sink: sink)

            var gateway = try await SpoolCrashTests.start(yaml, directory: directory)
            current = gateway
            try await SpoolCrashTests.store(known + known.map { $0.replacingOccurrences(of: "sdk-spool-a", with: "sdk-spool-b") }, admin: gateway.admin)

            // Segment goes down; the SDK sends, and the gateway is killed in the middle of it (most likely
            // while an upload of the first 300 events is on the wire; the last 100 come after it for sure).
            await sink.stop()
            let outageStarted = ContinuousClock.now
            let killed = gateway
            let resume = directory + "-resume"
            defer { try? FileManager.default.removeItem(atPath: resume) }
            let killer = Task {
                while killed.log.isEmpty || !FileManager.default.fileExists(atPath: directory + "/spool") {
                    try await Task.sleep(for: .milliseconds(20))
                }
                // Some uploads answered, then SIGKILL while the SDK is still sending.
                let deadline = ContinuousClock.now + .seconds(20)
                while ((try? SpoolLog.inspect(directory: directory + "/spool").batches) ?? 0) < 15 && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                _ = await killed.stop(signal: SIGKILL)
                FileManager.default.createFile(atPath: resume, contents: nil)
            }
            // The SDK holds its last 100 events until the kill, so the kill always cuts the run short.
            let firstRun = try await PythonSDK.send(
                first, host: gateway.ingress, gzip: true, maxRetries: 0, uploadSize: 10, pause: (after: 300, resumeWhen: resume))
            try await killer.value

            // Restarted on the same spool; the SDK sends again while Segment is still down.
            gateway = try await SpoolCrashTests.start(yaml, directory: directory)
            current = gateway
            let secondRun = try await PythonSDK.send(second, host: gateway.ingress, gzip: false, maxRetries: 0, uploadSize: 10)
            #expect(secondRun.errors.isEmpty, "the restarted gateway acknowledges while Segment is down: \(secondRun.errors.prefix(3))")

            let acknowledged = Set(firstRun.sent).subtracting(firstRun.failed ?? []).union(Set(secondRun.sent).subtracting(secondRun.failed ?? []))
            let expected = acknowledged.intersection(firstConsistent.union(secondConsistent))
            #expect(!(firstRun.failed ?? []).isEmpty, "the kill cut the first run short: \(firstRun.errors.count) errors")
            #expect(!expected.isEmpty)
            #expect(sink.received.isEmpty)

            let left = Self.outage - (ContinuousClock.now - outageStarted)
            if left > .zero { try await Task.sleep(for: left) }
            let backAt = ContinuousClock.now
            try await sink.resume()
            let arrived = await SpoolGatewayTests.eventually(within: .seconds(60)) {
                Set(SpoolGatewayTests.accepted(sink).keys).isSuperset(of: expected)
            }
            let took = ContinuousClock.now - backAt
            let accepted = Set(SpoolGatewayTests.accepted(sink).keys)
            #expect(arrived, "answered 200 but never delivered: \(expected.subtracting(accepted).sorted().prefix(10))")
            // Segment corrects clock skew taking sentAt and receivedAt to be close: the SDK stamped each
            // upload during the outage, and the spool moved that stamp by the time the batch waited.
            let skews = sink.received.filter(\.accepted).compactMap { received -> Double? in
                guard let sentAt = received.sentAt.flatMap({ ISO8601Timestamp(Array($0.utf8)) }) else { return nil }
                return received.receivedAt.timeIntervalSince1970 - Double(sentAt.milliseconds) / 1000
            }
            #expect(skews.count == sink.received.filter(\.accepted).count, "every upload carries the SDK's sentAt")
            #expect(skews.allSatisfy { abs($0) < 5 }, "receivedAt − sentAt up to \(skews.map(abs).max() ?? 0) s after a \(Self.outage) outage")
            let inconsistent = accepted.subtracting(firstConsistent.union(secondConsistent))
            #expect(inconsistent.isEmpty, "inconsistent events reached Segment: \(inconsistent.sorted().prefix(10))")
            #expect(await gateway.stop(signal: SIGTERM) == 0)
            print(
                "spool sdk: outage \(Self.outage), \(first.count + second.count) events sent, \(acknowledged.count) answered 200 "
                    + "(\((firstRun.failed ?? []).count) failed at the kill), \(expected.count) consistent of those, all delivered "
                    + "\(took) after Segment came back; \(accepted.count) consistent events delivered in all; "
                + "receivedAt − sentAt at most \(skews.map(abs).max() ?? 0) s")
        } catch {
            if let current { _ = await current.stop(signal: SIGKILL) }
            await sink.stop()
            throw error
        }
        await sink.stop()
    }
}
