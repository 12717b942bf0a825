import Foundation

/// Another SQLite connection, in a `python3` process of its own (as another program of the customer's
/// would be), holding the write lock of a store's file with `BEGIN EXCLUSIVE` until ``release()``.
/// `@unchecked`: `Process` and `Pipe` are not `Sendable`; they are only used from one thread at a time.
final class SQLiteLockHolder: @unchecked Sendable {
    private let process: Process
    private let input: Pipe

    private init(process: Process, input: Pipe) {
        self.process = process
        self.input = input
    }

    private static let script = """
        import sqlite3, sys
        connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("UPDATE consent_subjects SET version = version WHERE 0")
        print("locked", flush=True)
        sys.stdin.read()
        connection.execute("ROLLBACK")
        """

    /// Starts the process and returns once it holds the lock.
    static func lock(_ path: String) async throws -> SQLiteLockHolder {
        try await withCheckedThrowingContinuation { continuation in
            // Off the cooperative pool: reading the child's output blocks a thread.
            Thread.detachNewThread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3", "-c", script, path]
                let input = Pipe()
                let output = Pipe()
                process.standardInput = input
                process.standardOutput = output
                process.standardError = output
                do {
                    try ProcessLaunch.run(process)
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                var text = ""
                while !text.contains("\n") {
                    let data = output.fileHandleForReading.availableData
                    if data.isEmpty { break }
                    text += String(decoding: data, as: UTF8.self)
                }
                guard text.hasPrefix("locked") else {
                    process.terminate()
                    process.waitUntilExit()
                    continuation.resume(throwing: RawHTTPClient.Failure(description: "the SQLite lock holder failed: \(text)"))
                    return
                }
                continuation.resume(returning: SQLiteLockHolder(process: process, input: input))
            }
        }
    }

    /// Rolls the transaction back, releasing the lock, and waits for the process to end.
    func release() async {
        let process = self.process
        let input = self.input
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                try? input.fileHandleForWriting.close()
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }
}
