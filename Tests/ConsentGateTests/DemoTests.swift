import ConsentGate
import Foundation
import Logging
import Testing

/// `consentgate demo`: the whole path offline, read back from the audit log and the recorder.
@Suite(.serialized) struct DemoTests {
    @Test func everyKindOfStampEndsAsThePolicySays() async throws {
        var logger = Logger(label: "consentgate.demo-tests")
        logger.logLevel = .warning
        let report = try await DemoRun.run(logger: logger)

        #expect(report.rows.map(\.name) == ["consistent", "over-granted", "under-granted", "unstamped", "unknown user", "consent change"])
        // Drops answer 200, as Segment would: the SDK must not retry them.
        #expect(report.rows.allSatisfy { $0.status == 200 })

        let consistent = try #require(report.row("consistent"))
        #expect(consistent.verdict == "consistent")
        #expect(consistent.outcome == .forwarded)

        let over = try #require(report.row("over-granted"))
        #expect(over.verdict == "mismatch")
        #expect(over.over == ["Advertising"])
        #expect(over.outcome == .dropped)

        let under = try #require(report.row("under-granted"))
        #expect(under.verdict == "mismatch")
        #expect(under.under == ["Advertising"])
        #expect(under.outcome == .dropped)

        let unstamped = try #require(report.row("unstamped"))
        #expect(unstamped.stampSent == nil)
        #expect(unstamped.verdict == "missing_stamp")
        #expect(unstamped.outcome == .restamped(granted: ["Analytics"]))

        let unknown = try #require(report.row("unknown user"))
        #expect(unknown.truth == nil)
        #expect(unknown.verdict == "unknown_subject")
        #expect(unknown.outcome == .dropped)

        let change = try #require(report.row("consent change"))
        #expect(change.verdict == "preference_update")
        #expect(change.outcome == .forwarded)

        let table = report.table
        #expect(table.hasPrefix("case "))
        #expect(table.contains("restamped to {Analytics}"))
        // Header, rule, one line per row, two legend lines.
        #expect(table.split(separator: "\n").count == 2 + report.rows.count + 2)
    }

    @Test func leavesNoTemporaryFilesBehind() async throws {
        var logger = Logger(label: "consentgate.demo-tests")
        logger.logLevel = .warning
        let before = try demoDirectories()
        _ = try await DemoRun.run(logger: logger)
        #expect(try demoDirectories().subtracting(before).isEmpty)
    }

    private func demoDirectories() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
            .filter { $0.hasPrefix("consentgate-demo-") })
    }
}
