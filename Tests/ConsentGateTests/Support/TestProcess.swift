import Foundation

/// Runs a child process to completion and captures its combined output.
enum TestProcess {
    struct Result: Sendable {
        var exitCode: Int32
        var output: String
    }

    static func run(_ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 120) -> Result {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child: ChildProcess
        do {
            child = try ChildProcess(arguments, environment: environment, outputPath: outputPath)
        } catch {
            return Result(exitCode: -1, output: "\(error)")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline { usleep(10_000) }
        if child.isRunning { child.signal(SIGTERM) }
        let exitCode = child.wait()
        return Result(exitCode: exitCode, output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}

extension TestProcess {
    /// Runs the process on a thread outside Swift's cooperative pool: the in-process gateway the child
    /// talks to needs those threads to answer it.
    static func runDetached(_ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 120) async -> Result {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: run(arguments, environment: environment, timeout: timeout))
            }
        }
    }
}
