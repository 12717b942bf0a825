import ConsentCore
internal import PostgresNIO

extension ConsentStoreError {
    /// Maps a failure of postgres-nio to ``ConsentStoreError/Code/unavailable``.
    ///
    /// Only the error's code, SQLSTATE and the server's primary message are kept: postgres-nio's debug
    /// description carries the query's bound values (subjects), and the server's DETAIL line can quote a
    /// row. A subject is redacted from the message should one ever show up there.
    static func postgres(_ operation: String, _ error: any Error, redacting subject: String? = nil) -> ConsentStoreError {
        if let error = error as? ConsentStoreError { return error }
        var reason: String
        switch error {
        case let error as PSQLError:
            reason = "\(operation): postgres \(error.code)"
            if let state = error.serverInfo?[.sqlState] { reason += " \(state)" }
            if let message = error.serverInfo?[.message] { reason += ": \(message)" }
        case is CancellationError:
            reason = "\(operation): cancelled"
        case _ where String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError"):
            // The pool's errors are bare codes (e.g. it gave up connecting for now).
            reason = "\(operation): connection pool: \(String(describing: error))"
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

extension PostgresRowSequence {
    /// Reads every row, so that the connection (or the pool's lease) is free for the next statement.
    func drain() async throws {
        for try await _ in self {}
    }
}
