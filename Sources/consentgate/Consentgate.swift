import ArgumentParser
import ConsentGate
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The entry point: NIO's event loops become Swift Concurrency's global executor before anything else
/// runs, so a request's handler, the consent lookup and the forward stay on the event loop threads
/// instead of hopping to the dispatch pool and back (measured: three quarters of the gateway's CPU was
/// on the pool's threads, with a context switch at every hop).
@main
enum Main {
    static func main() async {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await Consentgate.main()
    }
}

struct Consentgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consentgate",
        abstract: "A consent firewall in front of Segment's tracking API.",
        version: BuildInfo.version,
        subcommands: [Serve.self, CheckConfig.self, ConsentCommand.self, SpoolCommand.self, DemoCommand.self]
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String = "config/consentgate.yaml"

    func run() async throws {
        let configuration = try await loadOrExit(config)
        LoggingSetup.bootstrap(configuration.log)
        let logger = Logger(label: "consentgate")
        try await Gateway(configuration: configuration, logger: logger).run()
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and print the effective configuration, secrets redacted."
    )

    @Argument(help: "The YAML configuration file.")
    var file: String

    func run() async throws {
        let configuration = try await loadOrExit(file)
        print(configuration.redactedDescription, terminator: "")
    }
}

/// Loads a configuration or exits non-zero with one line naming the key and the problem.
func loadOrExit(_ file: String) async throws -> GatewayConfiguration {
    try await orExit(2) { try await GatewayConfiguration.load(file: file) }
}

/// Runs a command's work; an error is one line on stderr and the exit status `code`.
func orExit<T>(_ code: Int32 = 1, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        FileHandle.standardError.write(Data("consentgate: \(error)\n".utf8))
        throw ExitCode(code)
    }
}
