import Foundation

/// Starts child processes one at a time. Foundation's `Process.run()` crashed in the test run (a
/// SIGSEGV in a `memcpy` inside it) while tests launched children concurrently; only the launch is
/// serialised, the children still run side by side.
enum ProcessLaunch {
    private static let lock = NSLock()

    static func run(_ process: Process) throws {
        try lock.withLock { try process.run() }
    }
}
