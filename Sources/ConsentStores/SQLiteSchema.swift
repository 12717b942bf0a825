import ConsentCore
import Logging
internal import SQLiteNIO

/// The versioned schema of the SQLite consent store, and the migrations that build it.
///
/// The version lives in the database header (`PRAGMA user_version`), which SQLite writes in the same
/// transaction as the migration's tables: a crash leaves either the old schema and version or the new
/// ones. `PRAGMA application_id` marks the file as consentgate's, so that a `store.sqlite.path` pointing
/// at some other application's database fails at start rather than at the first lookup.
enum SQLiteSchema {
    /// "cgst" in ASCII: consentgate's mark in the database header.
    static let applicationID: Int = 0x6367_7374

    /// One step of the schema. Each statement is run on its own: SQLite prepares only the first
    /// statement of a string.
    struct Migration: Sendable {
        var version: Int
        var statements: [String]
    }

    /// Every migration, in order. Append; never edit a released one.
    static let migrations: [Migration] = [
        Migration(
            version: 1,
            statements: [
                // `preferences`: the canonical JSON object of PreferencesJSON.
                // `updated_at`: milliseconds since 1970. WITHOUT ROWID: lookups by subject read one b-tree.
                """
                CREATE TABLE consent_subjects (
                    subject TEXT PRIMARY KEY NOT NULL,
                    preferences TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID
                """
            ]
        )
    ]

    /// The version this code writes and reads.
    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the database up to ``latestVersion``; a database already there is left untouched.
    ///
    /// Run on the writer connection before any reader opens.
    /// - Returns: The version found in the file (0 for a new file).
    /// - Throws: ``ConsentStoreError/Code/invalidData`` for a file that is not a consentgate store or whose
    ///   schema is newer than this code; ``ConsentStoreError/Code/unavailable`` when SQLite fails.
    static func migrate(_ connection: SQLiteConnection, logger: Logger) async throws(ConsentStoreError) -> Int {
        // A plain read first: an up-to-date file needs no write lock, which another process's long
        // import transaction could hold.
        let found = try await inspect(connection)
        if found.version == latestVersion, found.applicationID == applicationID { return found.version }

        try await execute(connection, "BEGIN IMMEDIATE", "migrate: begin")
        do throws(ConsentStoreError) {
            // Again under the write lock: another process may have migrated in between.
            let current = try await inspect(connection)
            for migration in migrations where migration.version > current.version {
                for statement in migration.statements {
                    try await execute(connection, statement, "migrate to version \(migration.version)")
                }
                // PRAGMAs take no parameters; both values are integers from this file.
                try await execute(connection, "PRAGMA user_version = \(migration.version)", "migrate: set version")
                logger.info("migrated the SQLite consent store", metadata: ["schema_version": "\(migration.version)"])
            }
            if current.applicationID != applicationID {
                try await execute(connection, "PRAGMA application_id = \(applicationID)", "migrate: set application id")
            }
            try await execute(connection, "COMMIT", "migrate: commit")
            return current.version
        } catch {
            _ = try? await execute(connection, "ROLLBACK", "migrate: rollback")
            throw error
        }
    }

    /// Reads the header's marks and refuses files this code must not touch.
    private static func inspect(_ connection: SQLiteConnection) async throws(ConsentStoreError) -> (version: Int, applicationID: Int) {
        let applicationID = try await integer(connection, "PRAGMA application_id")
        let version = try await integer(connection, "PRAGMA user_version")
        if applicationID != 0, applicationID != Self.applicationID {
            throw ConsentStoreError(.invalidData, "the SQLite file is not a consentgate consent store (application_id \(applicationID))")
        }
        if version > latestVersion {
            throw ConsentStoreError(
                .invalidData,
                "the SQLite consent store has schema version \(version), newer than this consentgate knows (\(latestVersion)); "
                    + "upgrade consentgate or restore a backup"
            )
        }
        if version == 0 {
            // A new file has no tables; one with tables but no version belongs to someone else.
            let tables = try await integer(connection, "SELECT count(*) FROM sqlite_schema")
            if tables > 0 {
                throw ConsentStoreError(.invalidData, "the SQLite file has tables but no consentgate schema version")
            }
        }
        return (version, applicationID)
    }

    private static func integer(_ connection: SQLiteConnection, _ sql: String) async throws(ConsentStoreError) -> Int {
        let rows = try await execute(connection, sql, "read schema version")
        guard let value = rows.first?.columns.first?.data.integer else {
            throw ConsentStoreError(.invalidData, "read schema version: no integer answer")
        }
        return Int(value)
    }

    @discardableResult
    static func execute(
        _ connection: SQLiteConnection,
        _ sql: String,
        _ operation: String,
        _ binds: [SQLiteData] = []
    ) async throws(ConsentStoreError) -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch {
            throw .sqlite(operation, error)
        }
    }
}
