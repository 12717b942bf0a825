import ArgumentParser
import ConsentGate
import Foundation
import Logging

/// `consentgate spool ...`: the durable spool of `delivery.mode: spool`.
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect and operate the spool of delivery.mode: spool.",
        subcommands: [SpoolStatusCommand.self, SpoolDrain.self, SpoolRequeue.self]
    )
}

/// `consentgate spool status`: what the configured spool holds; works while a gateway runs.
struct SpoolStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the spool's bytes, batches, oldest batch age and dead letters (safe while a gateway runs)."
    )

    @Option(name: .long, help: "The YAML configuration file naming the spool (delivery.spool.path).")
    var config: String = "config/consentgate.yaml"

    func run() async throws {
        let configuration = try await loadOrExit(config)
        print(try await orExit { try SpoolOperations.status(path: configuration.delivery.spool.path) }, terminator: "")
    }
}

/// `consentgate spool drain PATH`: delivers a spool left behind by a replica that is gone for good.
struct SpoolDrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Deliver every batch of the spool at PATH to the configuration's upstreams, then exit.",
        discussion: """
            For a spool left behind by a replica that is gone for good. Batches are sent with the configuration's \
            sources and delivery.retry settings; refused ones become dead letters under PATH/dead-letters. \
            Exits non-zero if another process holds the spool. SIGINT/SIGTERM stop it, leaving the rest in the spool.
            """
    )

    @Argument(help: "The spool directory to drain.")
    var path: String

    @Option(name: .long, help: "The YAML configuration file naming the upstreams and sources.")
    var config: String = "config/consentgate.yaml"

    func run() async throws {
        let configuration = try await loadOrExit(config)
        LoggingSetup.bootstrap(configuration.log)
        let logger = Logger(label: "consentgate")
        let report = try await orExit { try await SpoolOperations.drain(path: path, configuration: configuration, logger: logger) }
        print(report.description)
    }
}

/// `consentgate spool requeue-dead-letters`: puts dead letters back in line.
struct SpoolRequeue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue-dead-letters",
        abstract: "Append every dead letter back to the spool (run it while no gateway uses the spool).",
        discussion: "The next gateway to open the spool delivers them again; they keep their original acceptance time."
    )

    @Option(name: .long, help: "The YAML configuration file naming the spool (delivery.spool.path).")
    var config: String = "config/consentgate.yaml"

    func run() async throws {
        let configuration = try await loadOrExit(config)
        let count = try await orExit { try await SpoolOperations.requeueDeadLetters(configuration: configuration) }
        print("requeued \(count) dead letters")
    }
}
