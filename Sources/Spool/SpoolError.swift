/// Why a spool operation failed. The message names files and system errors, never payload bytes.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The append would take the undelivered bytes past `maxBytes`; nothing was written.
        case full
        /// A system call failed (the message names it and the file).
        case io
        /// The log was closed.
        case closed
        /// Another open log (this process or another) holds the directory's lock.
        case locked
        /// A file's contents are not what the spool writes (bad magic, bad CRC, unknown version).
        case corrupt
    }

    public var code: Code
    /// A human-readable explanation; never contains payload bytes.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "spool \(code.rawValue): \(message)" }
}
