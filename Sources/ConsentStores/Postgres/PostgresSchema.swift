import ConsentCore
import Logging
internal import PostgresNIO

/// The versioned schema of the PostgreSQL consent store, the migrations that build it, and the
/// triggers that announce every change with `NOTIFY`.
///
/// ```sql
/// consent_subjects (subject text PRIMARY KEY, preferences jsonb, version bigint, updated_at timestamptz)
/// ```
///
/// The version lives in `consentgate_schema`, written in the same transaction as the migration. Every
/// replica migrates at start under a transaction-scoped advisory lock, so replicas starting together
/// migrate once. A `consent_subjects` table that consentgate did not create is refused, not adopted.
///
/// Whoever writes the table (consentgate, or the customer's own SQL), two triggers keep replicas right:
/// - `consentgate_bump_version` (BEFORE UPDATE) bumps `version` and sets `updated_at` when the update
///   left them unchanged, so a plain `UPDATE ... SET preferences = ...` still yields a new version;
/// - `cg_notify_<channel>` (AFTER INSERT, UPDATE, DELETE, per row) sends `NOTIFY <channel>` with the
///   subject as payload (for an update that renames a subject, both names), and `cg_truncate_<channel>`
///   (AFTER TRUNCATE) an empty payload, which means "everything may have changed". A subject too long
///   for a notification payload (8000 bytes) also sends the empty payload.
///
/// The channel triggers are created at start for the configured channel when missing, not by a
/// migration: the channel is a setting.
enum PostgresSchema {
    /// One step of the schema: statements run in order, in the migration's transaction.
    struct Migration: Sendable {
        var version: Int
        var statements: [String]
    }

    /// consentgate's advisory lock key for migrations ("cgst" in ASCII).
    static let advisoryLockKey: Int64 = 0x6367_7374

    /// Every migration, in order. Append; never edit a released one.
    static let migrations: [Migration] = [
        Migration(
            version: 1,
            statements: [
                """
                CREATE TABLE consent_subjects (
                    subject text PRIMARY KEY,
                    preferences jsonb NOT NULL DEFAULT '{}'::jsonb
                        CONSTRAINT consent_subjects_preferences_object CHECK (jsonb_typeof(preferences) = 'object'),
                    version bigint NOT NULL DEFAULT 1,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """
            ]
        ),
        Migration(
            version: 2,
            statements: [
                """
                CREATE OR REPLACE FUNCTION consentgate_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.version IS NOT DISTINCT FROM OLD.version THEN
                        NEW.version := OLD.version + 1;
                    END IF;
                    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
                        NEW.updated_at := now();
                    END IF;
                    RETURN NEW;
                END
                $$
                """,
                """
                CREATE TRIGGER consentgate_bump_version BEFORE UPDATE ON consent_subjects
                    FOR EACH ROW EXECUTE FUNCTION consentgate_bump_version()
                """,
                // TG_ARGV[0] is the channel. NOTIFY payloads must be shorter than 8000 bytes.
                """
                CREATE OR REPLACE FUNCTION consentgate_notify_subject() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    channel text := TG_ARGV[0];
                BEGIN
                    IF TG_OP = 'TRUNCATE' THEN
                        PERFORM pg_notify(channel, '');
                        RETURN NULL;
                    END IF;
                    IF TG_OP IN ('UPDATE', 'DELETE') THEN
                        PERFORM pg_notify(channel, CASE WHEN octet_length(OLD.subject) < 8000 THEN OLD.subject ELSE '' END);
                    END IF;
                    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.subject IS DISTINCT FROM OLD.subject) THEN
                        PERFORM pg_notify(channel, CASE WHEN octet_length(NEW.subject) < 8000 THEN NEW.subject ELSE '' END);
                    END IF;
                    RETURN NULL;
                END
                $$
                """,
            ]
        ),
    ]

    /// The version this code reads and writes.
    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// What a migration found and did.
    struct Outcome: Sendable, Hashable {
        /// The version found (0 for a database without consentgate's schema).
        var foundVersion: Int
        /// Whether the channel's triggers had to be created.
        var createdTriggers: Bool
    }

    /// Whether a channel name is usable: lower-case letters, digits and `_`, not starting with a digit,
    /// at most 40 characters (trigger names add a prefix and PostgreSQL cuts identifiers at 63 bytes).
    static func isValidChannel(_ channel: String) -> Bool {
        guard let first = channel.utf8.first, channel.utf8.count <= 40, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return channel.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }

    /// Brings the database up to ``latestVersion`` and makes sure `channel`'s triggers exist, in one
    /// transaction under consentgate's advisory lock.
    ///
    /// - Throws: ``ConsentStoreError/Code/invalidData`` for a database whose schema is newer than this
    ///   code or whose `consent_subjects` table consentgate did not create; ``ConsentStoreError/Code/unavailable``
    ///   when PostgreSQL fails.
    static func migrate(_ connection: PostgresConnection, channel: String, logger: Logger) async throws(ConsentStoreError) -> Outcome {
        precondition(isValidChannel(channel), "the channel is validated by the store's configuration")
        try await execute(connection, "BEGIN", "migrate: begin")
        do throws(ConsentStoreError) {
            try await execute(connection, "SELECT pg_advisory_xact_lock(\(advisoryLockKey))", "migrate: lock")
            // Reads first: an up-to-date database needs no DDL, so a role without CREATE can run replicas.
            let hasVersionTable = try await integer(
                connection, "SELECT count(*) FROM (SELECT to_regclass('consentgate_schema') AS t) s WHERE t IS NOT NULL",
                "migrate: look for the version table")
            if hasVersionTable == 0 {
                try await execute(
                    connection,
                    """
                    CREATE TABLE consentgate_schema (
                        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                        version integer NOT NULL
                    )
                    """,
                    "migrate: create the version table")
            }
            let found = try await integer(connection, "SELECT coalesce(max(version), 0) FROM consentgate_schema", "migrate: read version")
            if found > latestVersion {
                throw ConsentStoreError(
                    .invalidData,
                    "the PostgreSQL consent store has schema version \(found), newer than this consentgate knows (\(latestVersion)); "
                        + "upgrade consentgate")
            }
            if found == 0 {
                let exists = try await integer(
                    connection, "SELECT count(*) FROM (SELECT to_regclass('consent_subjects') AS t) s WHERE t IS NOT NULL",
                    "migrate: look for the table")
                if exists > 0 {
                    throw ConsentStoreError(
                        .invalidData,
                        "a table consent_subjects exists but was not created by consentgate (no consentgate_schema version); "
                            + "rename it, or let consentgate create the table and copy the rows into it")
                }
            }
            for migration in migrations where migration.version > found {
                for statement in migration.statements {
                    try await execute(connection, statement, "migrate to version \(migration.version)")
                }
                logger.info("migrated the PostgreSQL consent store", metadata: ["schema_version": "\(migration.version)"])
            }
            if found < latestVersion {
                try await execute(
                    connection,
                    """
                    INSERT INTO consentgate_schema (singleton, version) VALUES (true, \(latestVersion))
                    ON CONFLICT (singleton) DO UPDATE SET version = excluded.version
                    """,
                    "migrate: set version")
            }
            let createdTriggers = try await ensureTriggers(connection, channel: channel)
            try await execute(connection, "COMMIT", "migrate: commit")
            return Outcome(foundVersion: found, createdTriggers: createdTriggers)
        } catch {
            _ = try? await execute(connection, "ROLLBACK", "migrate: rollback")
            throw error
        }
    }

    /// Creates the channel's NOTIFY triggers unless they exist. The channel is validated, so it is safe
    /// in SQL text (trigger arguments and names cannot be bound parameters).
    private static func ensureTriggers(_ connection: PostgresConnection, channel: String) async throws(ConsentStoreError) -> Bool {
        let rowTrigger = "cg_notify_\(channel)"
        let truncateTrigger = "cg_truncate_\(channel)"
        let existing = try await integer(
            connection,
            """
            SELECT count(*) FROM pg_trigger
            WHERE tgrelid = 'consent_subjects'::regclass AND tgname IN ('\(rowTrigger)', '\(truncateTrigger)')
            """,
            "migrate: look for the NOTIFY triggers")
        guard existing < 2 else { return false }
        try await execute(connection, "DROP TRIGGER IF EXISTS \(rowTrigger) ON consent_subjects", "migrate: drop a partial trigger")
        try await execute(connection, "DROP TRIGGER IF EXISTS \(truncateTrigger) ON consent_subjects", "migrate: drop a partial trigger")
        try await execute(
            connection,
            """
            CREATE TRIGGER \(rowTrigger) AFTER INSERT OR UPDATE OR DELETE ON consent_subjects
                FOR EACH ROW EXECUTE FUNCTION consentgate_notify_subject('\(channel)')
            """,
            "migrate: create the NOTIFY trigger")
        try await execute(
            connection,
            """
            CREATE TRIGGER \(truncateTrigger) AFTER TRUNCATE ON consent_subjects
                FOR EACH STATEMENT EXECUTE FUNCTION consentgate_notify_subject('\(channel)')
            """,
            "migrate: create the TRUNCATE trigger")
        return true
    }

    private static func integer(_ connection: PostgresConnection, _ sql: String, _ operation: String) async throws(ConsentStoreError) -> Int {
        var first: Int64?
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: connection.logger)
            // Read to the end: the connection serves the next statement only then.
            for try await value in rows.decode(Int64.self) where first == nil {
                first = value
            }
        } catch {
            throw .postgres(operation, error)
        }
        guard let first else { throw ConsentStoreError(.invalidData, "\(operation): no answer") }
        return Int(first)
    }

    static func execute(_ connection: PostgresConnection, _ sql: String, _ operation: String) async throws(ConsentStoreError) {
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: connection.logger).drain()
        } catch {
            throw .postgres(operation, error)
        }
    }
}
