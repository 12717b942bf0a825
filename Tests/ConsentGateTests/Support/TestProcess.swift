import Foundation

/// Runs a child process to completion and captures its combined output.
enum TestProcess {
    struct Result: Sendable {
        var exitCode: Int32
        var output: String
    }

    static func run(_ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 120) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try ProcessLaunch.run(process)
        } catch {
            return Result(exitCode: -1, output: "cannot start \(arguments[0]): \(error)")
        }
        let deadline = Date().addingTimeInterval(timeout)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return Result(exitCode: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
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
