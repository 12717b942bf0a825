import Foundation
import Testing

/// `consentgate spool status | drain | requeue-dead-letters`, the real binary beside a running gateway:
/// `status` reads a spool in use; `drain` and `requeue-dead-letters` refuse one another process holds,
/// with a non-zero exit and a message; once it is free, `drain` delivers it and exits.
@Suite(.timeLimit(.minutes(2)))
struct SpoolCommandTests {
    @Test func theCommandsAgainstASpoolInUseAndLeftBehind() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = try await SegmentSink.start()
        let gateway = try await SpoolCrashTests.start(SpoolCrashTests.yaml(directory: directory, sink: sink), directory: directory)
        do {
            let config = directory + "/consentgate.yaml"
            let spool = directory + "/spool"
            let plan = LedgerPlan("spool-cli", batches: 3)
            try await SpoolCrashTests.store(plan.knownSubjects, admin: gateway.admin)
            await sink.stop()
            for batch in plan.batches {
                let reply = try await HarnessClient.shared.send(gateway.ingress + "/v1/batch", method: "POST", body: LedgerPlan.body(batch))
                #expect(reply.status == 200)
            }

            let status = await TestProcess.runDetached([GatewayProcess.executable, "spool", "status", "--config", config])
            #expect(status.exitCode == 0 && status.output.contains("batches: 3\n") && status.output.contains("oldest_age_seconds: "), "\(status.output)")
            for command in [["spool", "drain", spool, "--config", config], ["spool", "requeue-dead-letters", "--config", config]] {
                let refused = await TestProcess.runDetached([GatewayProcess.executable] + command)
                #expect(refused.exitCode == 1 && refused.output.contains("locked"), "\(command): \(refused.exitCode) \(refused.output)")
            }

            // The replica goes for good (SIGKILL: nothing is flushed); its spool is drained elsewhere.
            _ = await gateway.stop(signal: SIGKILL)
            try await sink.resume()
            let drain = await TestProcess.runDetached([GatewayProcess.executable, "spool", "drain", spool, "--config", config], timeout: 60)
            #expect(drain.exitCode == 0 && drain.output.contains("drained 3 batches: 3 delivered, 0 dead-lettered; 0 left"), "\(drain.output)")
            let consistent = SpoolGatewayTests.consistent(plan.batches)
            #expect(Set(SpoolGatewayTests.accepted(sink).keys) == consistent)
            let after = await TestProcess.runDetached([GatewayProcess.executable, "spool", "status", "--config", config])
            #expect(after.output.contains("batches: 0\n"), "\(after.output)")
        } catch {
            _ = await gateway.stop(signal: SIGKILL)
            await sink.stop()
            throw error
        }
        await sink.stop()
    }
}
