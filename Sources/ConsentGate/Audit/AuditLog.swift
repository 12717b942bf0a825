#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The decision audit log: JSON lines appended to `audit.path`. Each request's records go to the
/// kernel in one `write(2)` on an `O_APPEND` descriptor, so a crash never leaves half a request's
/// records buffered in the process; ``flush()`` also syncs them to disk (at shutdown).
final class AuditLog: Sendable {
    private let descriptor: Mutex<Int32>
    let path: String

    init(path: String) throws(ConfigurationError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { AuditLog.makeDirectories(directory) }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ConfigurationError(key: "audit.path", "cannot open '\(path)' for appending (errno \(errno))")
        }
        self.descriptor = Mutex(fd)
        self.path = path
    }

    /// Appends the records of one request; `false` when the file could not be written.
    @discardableResult
    func append(_ records: [AuditRecord]) -> Bool {
        guard !records.isEmpty else { return true }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.count * 320)
        for record in records { record.appendJSONLine(to: &bytes) }
        return descriptor.withLock { fd in
            guard fd >= 0 else { return false }
            return bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += written
                }
                return true
            }
        }
    }

    /// Syncs appended records to disk.
    func flush() {
        descriptor.withLock { fd in
            if fd >= 0 { _ = fsync(fd) }
        }
    }

    /// Syncs and closes; later appends are ignored.
    func close() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = fsync(fd)
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    private static func makeDirectories(_ path: String) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            _ = mkdir(current, 0o755)
        }
    }
}
