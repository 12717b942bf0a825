import Foundation

/// The real `consentgate serve` binary as a child process, configured by a YAML file, with its
/// standard output and error captured to a file (JSON log lines).
final class GatewayProcess: @unchecked Sendable {
    let process: ChildProcess
    let directory: String
    let logPath: String
    private(set) var ingressPort = 0
    private(set) var adminPort = 0

    /// The `consentgate` executable built next to this test bundle.
    static var executable: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        let candidate = directory.appendingPathComponent("consentgate").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return RepositoryPaths.root + "/.build/debug/consentgate"
    }

    /// Starts the binary with `yaml` (ports 0 are fine: the bound ports are read from the log).
    init(yaml: String, directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configPath = directory + "/consentgate.yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        logPath = directory + "/gateway.log"
        process = try ChildProcess([Self.executable, "serve", "--config", configPath], directory: directory, outputPath: logPath)
    }

    /// Waits for the "listening" log line and reads the bound ports from it.
    func waitUntilListening(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for line in log.split(separator: "\n") where line.contains(#""message":"listening""#) {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                let metadata = object?["metadata"] as? [String: String]
                ingressPort = Int(metadata?["ingress_port"] ?? "") ?? 0
                adminPort = Int(metadata?["admin_port"] ?? "") ?? 0
                return
            }
            guard process.isRunning else { throw Failure(description: "consentgate exited early:\n\(log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "consentgate did not start listening:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var ingress: String { "http://127.0.0.1:\(ingressPort)" }
    var admin: String { "http://127.0.0.1:\(adminPort)" }

    /// Sends a signal and waits for the exit status.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) async -> Int32? {
        process.signal(signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            process.signal(SIGKILL)
            process.wait()
            return nil
        }
        return process.exitCode
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }
}
