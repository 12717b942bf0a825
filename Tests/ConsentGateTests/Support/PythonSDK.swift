import Foundation

/// Drives the real `segment-analytics-python` SDK (installed from PyPI by `.ci/run`) through
/// `scripts/interop/send_with_sdk.py`.
enum PythonSDK {
    struct PlannedEvent: Codable, Sendable {
        var user_id: String?
        var anonymous_id: String?
        var event: String = "Interop Event"
        var stamp: [String: Bool]?
        var message_id: String?
    }

    struct Outcome: Codable {
        var sent: [String]
        var errors: [String]
        /// The `messageId`s of the uploads the SDK gave up on; the rest of ``sent`` was answered 200.
        var failed: [String]? = nil
    }

    /// - Parameters:
    ///   - maxRetries: the SDK's `max_retries` (its default, 10, when `nil`).
    ///   - uploadSize: events per upload (25 when `nil`).
    ///   - pause: the SDK stops enqueueing after `after` events until the file `resumeWhen` exists.
    static func send(
        _ events: [PlannedEvent], host: String, writeKey: String = "wk-interop", gzip: Bool, maxRetries: Int? = nil, uploadSize: Int? = nil,
        pause: (after: Int, resumeWhen: String)? = nil
    ) async throws -> Outcome {
        let plan = FileManager.default.temporaryDirectory.appendingPathComponent("sdk-plan-\(UUID().uuidString).json")
        try JSONEncoder().encode(events).write(to: plan)
        defer { try? FileManager.default.removeItem(at: plan) }
        var arguments = ["/usr/bin/env", "python3", RepositoryPaths.root + "/scripts/interop/send_with_sdk.py", host, writeKey, plan.path]
        if gzip { arguments.append("--gzip") }
        if let maxRetries { arguments += ["--max-retries", String(maxRetries)] }
        if let uploadSize { arguments += ["--upload-size", String(uploadSize)] }
        if let pause { arguments += ["--pause-after", String(pause.after), "--resume-when", pause.resumeWhen] }
        let result = await TestProcess.runDetached(arguments, timeout: 120)
        guard result.exitCode == 0, let line = result.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw SDKFailure(output: result.output)
        }
        return try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
    }

    struct SDKFailure: Error, CustomStringConvertible {
        var output: String
        var description: String { "the Python SDK run failed (is segment-analytics-python installed?):\n\(output)" }
    }
}
