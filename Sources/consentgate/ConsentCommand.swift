import ArgumentParser
import ConsentGate
import Foundation
import Logging

/// `consentgate consent ...`: operations on the store of record.
struct ConsentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "Manage the consent store of record.",
        subcommands: [ConsentImport.self]
    )
}

/// `consentgate consent import FILE`: bulk-loads JSON lines into the configured store.
struct ConsentImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load consent from a JSON-lines file into the configured store.",
        discussion: """
            Each line: {"subject": "...", "categoryPreferences": {"Advertising": false, "Analytics": true}}. \
            Blank lines are skipped; other top-level keys are ignored; when a subject repeats, the last line wins. \
            A bad line stops the import and names its number; nothing of its batch is written (earlier batches stay).
            """
    )

    @Argument(help: "The JSON-lines file.")
    var file: String

    @Option(name: .long, help: "The YAML configuration file naming the store.")
    var config: String = "config/consentgate.yaml"

    @Option(name: .long, help: "Subjects validated before each store write (lower it to use less memory).")
    var batchSize: Int = ConsentImporter.defaultBatchSize

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() async throws {
        let configuration = try await loadOrExit(config)
        // Quiet: stdout carries the one summary line, stderr only problems.
        var logger = Logger(label: "consentgate")
        logger.logLevel = .warning
        let report = try await orExit {
            try await ConsentImporter.run(file: file, configuration: configuration, logger: logger, batchSize: batchSize)
        }
        print(report.summary)
    }
}
