import Foundation

/// Another SQLite connection, in a `python3` process of its own (as another program of the customer's
/// would be), holding the write lock of a store's file with `BEGIN EXCLUSIVE` until ``release()``.
/// `@unchecked`: the descriptor is only used from one thread at a time.
final class SQLiteLockHolder: @unchecked Sendable {
    private let process: ChildProcess
    /// The write end of the child's standard input: closing it lets the child roll back and end.
    private let input: Int32

    private init(process: ChildProcess, input: Int32) {
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
            // Off the cooperative pool: waiting for the child blocks a thread.
            Thread.detachNewThread {
                var ends: [Int32] = [0, 0]
                // Every ChildProcess closes the descriptors it inherits above 2, so no other child keeps the
                // write end open (which would keep this child waiting for the end of its input).
                guard pipe(&ends) == 0 else {
                    continuation.resume(throwing: RawHTTPClient.Failure(description: "pipe failed: errno \(errno)"))
                    return
                }
                let outputPath = path + ".lock-holder.log"
                let process: ChildProcess
                do {
                    process = try ChildProcess(["/usr/bin/env", "python3", "-c", script, path], outputPath: outputPath, input: ends[0])
                } catch {
                    close(ends[0])
                    close(ends[1])
                    continuation.resume(throwing: error)
                    return
                }
                close(ends[0])
                let deadline = Date().addingTimeInterval(30)
                var text = ""
                while !text.contains("\n") && process.isRunning && Date() < deadline {
                    usleep(10_000)
                    text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
                }
                guard text.hasPrefix("locked") else {
                    close(ends[1])
                    process.signal(SIGTERM)
                    process.wait()
                    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
                    continuation.resume(throwing: RawHTTPClient.Failure(description: "the SQLite lock holder failed: \(output)"))
                    return
                }
                continuation.resume(returning: SQLiteLockHolder(process: process, input: ends[1]))
            }
        }
    }

    private let released = NSLock()
    private var isReleased = false

    /// Rolls the transaction back, releasing the lock, and waits for the process to end. Idempotent:
    /// closing the descriptor twice could close one that has since been reused (by NIO, say).
    func release() async {
        let first = released.withLock {
            defer { isReleased = true }
            return !isReleased
        }
        guard first else { return }
        let process = self.process
        let input = self.input
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                close(input)
                process.wait()
                continuation.resume()
            }
        }
    }
}
