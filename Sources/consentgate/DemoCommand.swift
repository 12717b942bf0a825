import ArgumentParser
import ConsentGate
import Logging

/// `consentgate demo`: the gateway end to end on this machine, no network, no arguments.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the gateway offline against a recording stand-in for Segment and show what it does with each kind of event.",
        discussion: """
            Starts the gateway on a temporary SQLite store, seeds three made-up users through the consent API, \
            posts consistent, over-granted, under-granted, unstamped, unknown-user and consent-change events, \
            and prints what reached "Segment", what was dropped or restamped, and why.
            """
    )

    func run() async throws {
        // Quiet, so the table is the output.
        var logger = Logger(label: "consentgate-demo")
        logger.logLevel = .warning
        let report = try await DemoRun.run(logger: logger)
        print(report.table, terminator: "")
    }
}
