import ConsentCore
internal import SQLiteNIO

extension ConsentStoreError {
    /// Maps a failure of sqlite-nio (or of its thread pool) to ``ConsentStoreError/Code/unavailable``.
    ///
    /// SQLite's messages name tables, columns and constraints, never bound values; a subject is redacted
    /// anyway should one ever show up, since reasons end up in logs.
    static func sqlite(_ operation: String, _ error: any Error, redacting subject: String? = nil) -> ConsentStoreError {
        if let error = error as? ConsentStoreError { return error }
        var reason: String
        switch error {
        case let error as SQLiteError:
            reason = "\(operation): sqlite \(error.reason): \(error.message)"
        case is CancellationError:
            reason = "\(operation): cancelled"
        default:
            // The type only: an arbitrary error's description could carry anything.
            reason = "\(operation): \(String(reflecting: type(of: error)))"
        }
        if let subject, !subject.isEmpty, reason.contains(subject) {
            reason = reason.replacing(subject, with: "<subject>")
        }
        return ConsentStoreError(.unavailable, reason)
    }
}
