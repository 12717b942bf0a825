import Foundation

@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnActionsAddCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnActionsAddChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32

/// A child process started with `posix_spawn`, its standard output and error going to a file.
///
/// Not Foundation's `Process`: its `run()` crashed the test process (a `memcpy` past a buffer while it
/// closes inherited descriptors) when more than about a thousand descriptors were open, as they are
/// while the slowloris test holds its connections. Here the child closes every descriptor above 2 itself.
final class ChildProcess: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?

    /// - Parameters:
    ///   - arguments: the executable's path, then its arguments.
    ///   - environment: added to (and overriding) this process's environment.
    ///   - directory: the child's working directory (default: ours).
    ///   - outputPath: a file created or truncated for the child's standard output and error.
    ///   - input: a descriptor for the child's standard input (default `/dev/null`); the caller keeps it.
    init(
        _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil, outputPath: String,
        input: Int32? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        _ = spawnActionsAddCloseFrom(&actions, 3)
        if let directory { _ = spawnActionsAddChdir(&actions, directory) }

        let merged = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { _, new in new }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let error = posix_spawn(&pid, arguments[0], &actions, nil, &argv, &envp)
        guard error == 0 else {
            throw Failure(description: "cannot start \(arguments[0]): \(String(cString: strerror(error)))")
        }
        self.pid = pid
    }

    /// Whether the child still runs (reaping it once it has ended).
    var isRunning: Bool { poll(block: false) == nil }

    /// Waits for the child to end; its exit code, or the number of the signal that ended it.
    @discardableResult
    func wait() -> Int32 { poll(block: true)! }

    /// The exit code (or signal number) once the child has ended.
    var exitCode: Int32? { poll(block: false) }

    func signal(_ signal: Int32) {
        lock.withLock { if status == nil { _ = kill(pid, signal) } }
    }

    private func poll(block: Bool) -> Int32? {
        lock.withLock {
            if status == nil {
                var raw: Int32 = 0
                var result: pid_t
                repeat { result = waitpid(pid, &raw, block ? 0 : WNOHANG) } while result == -1 && errno == EINTR
                if result == pid { status = raw }
            }
            guard let status else { return nil }
            // WIFEXITED ? WEXITSTATUS : WTERMSIG
            return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
        }
    }
}
