public import ConsentCore
import FoundationEssentials
public import Logging
public import SegmentWire
internal import SQLiteNIO
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded store of record: one SQLite file, created on first start, that survives restarts.
///
/// The file is in WAL mode, so readers never wait for the writer: lookups, the hot path, go round-robin
/// over a few read connections, while puts, deletes and imports go through one writer connection, one
/// transaction at a time. All SQLite calls run on `NIOThreadPool.singleton` (sqlite-nio's default).
///
/// Every SQLite failure becomes ``ConsentStoreError/Code/unavailable``, a stored value that cannot be
/// read ``ConsentStoreError/Code/invalidData``; a lookup answers `nil` only when the subject is not
/// stored. Once the file at ``path`` is removed or replaced, every operation throws: SQLite would go on
/// using the unlinked file. Subjects are bound as parameters, never put into SQL text, and never appear
/// in error reasons.
public final class SQLiteConsentStore: WritableConsentStore {
    /// How the store uses SQLite.
    public struct Configuration: Sendable {
        /// Connections that serve lookups. Each runs on a thread-pool thread, so more than the pool's
        /// threads (the number of cores) brings nothing.
        public var readConnections: Int
        /// How long a statement waits for a lock held by another connection or process before failing.
        public var busyTimeout: Duration
        /// SQLite's page cache per connection, in KiB.
        public var pageCacheKiB: Int
        /// Subjects written per transaction by ``SQLiteConsentStore/importRecords(_:at:)``. Puts can
        /// interleave between transactions; a failed import keeps the transactions already committed.
        public var importTransactionSize: Int
        /// Rows per multi-row `INSERT` statement of an import.
        public var importRowsPerStatement: Int
        /// Whether to create the database file's missing parent directories.
        public var createsParentDirectories: Bool

        public init(
            readConnections: Int = 2,
            busyTimeout: Duration = .seconds(5),
            pageCacheKiB: Int = 16_384,
            importTransactionSize: Int = 50_000,
            importRowsPerStatement: Int = 500,
            createsParentDirectories: Bool = true
        ) {
            self.readConnections = readConnections
            self.busyTimeout = busyTimeout
            self.pageCacheKiB = pageCacheKiB
            self.importTransactionSize = importTransactionSize
            self.importRowsPerStatement = importRowsPerStatement
            self.createsParentDirectories = createsParentDirectories
        }
    }

    /// The schema version this code reads and writes (`PRAGMA user_version` of the file).
    public static var schemaVersion: Int { SQLiteSchema.latestVersion }

    public var kind: String { "sqlite" }
    public var maxConcurrentLookups: Int { max(1, readers.count) * 2 }
    /// The database file.
    public let path: String
    public let configuration: Configuration

    /// The path handed to SQLite (``path``, unless it had to be escaped).
    private let sqlitePath: String
    /// The device and inode of the file when opened: SQLite keeps reading an unlinked file.
    private let fileIdentity: FileIdentity
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let nextReader = Atomic<UInt>(0)
    private let writeLock = AsyncSerialLock()
    private let gate = OperationGate()
    private let logger: Logger

    private init(
        path: String,
        sqlitePath: String,
        fileIdentity: FileIdentity,
        configuration: Configuration,
        writer: SQLiteConnection,
        readers: [SQLiteConnection],
        logger: Logger
    ) {
        self.path = path
        self.sqlitePath = sqlitePath
        self.fileIdentity = fileIdentity
        self.configuration = configuration
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens the store at `path`, creating the file on first start and migrating its schema.
    ///
    /// - Parameters:
    ///   - path: The database file (`store.sqlite.path`). Its `-wal` and `-shm` companions live beside it.
    ///   - configuration: Connection counts, timeouts and import sizes.
    ///   - logger: For open, migration and close; never given a subject.
    /// - Throws: ``ConsentStoreError/Code/invalidRequest`` for an unusable path or configuration,
    ///   ``ConsentStoreError/Code/invalidData`` for a file that is not a consentgate store or has a newer
    ///   schema, ``ConsentStoreError/Code/unavailable`` when SQLite cannot open or set up the file.
    public static func open(
        path: String,
        configuration: Configuration = .init(),
        logger: Logger
    ) async throws(ConsentStoreError) -> SQLiteConsentStore {
        try validate(configuration)
        let filePath = try sqlitePath(path)
        if configuration.createsParentDirectories {
            try createParentDirectories(of: filePath)
        }

        var opened: [SQLiteConnection] = []
        do throws(ConsentStoreError) {
            let writer = try await connect(filePath, logger: logger)
            opened.append(writer)
            try await configureWriter(writer, configuration, logger: logger)
            let foundVersion = try await SQLiteSchema.migrate(writer, logger: logger)

            // Readers open after the migration: they must never see a half-built schema.
            var readers: [SQLiteConnection] = []
            for _ in 0..<configuration.readConnections {
                let reader = try await connect(filePath, logger: logger)
                opened.append(reader)
                try await configureReader(reader, configuration)
                readers.append(reader)
            }
            logger.info(
                "opened the SQLite consent store",
                metadata: [
                    "path": "\(path)",
                    "schema_version": "\(SQLiteSchema.latestVersion)",
                    "created": "\(foundVersion == 0)",
                    "read_connections": "\(readers.count)",
                ]
            )
            guard let identity = fileIdentity(filePath) else {
                throw ConsentStoreError(.unavailable, "the SQLite file at \(path) vanished while opening")
            }
            return SQLiteConsentStore(
                path: path,
                sqlitePath: filePath,
                fileIdentity: identity,
                configuration: configuration,
                writer: writer,
                readers: readers,
                logger: logger
            )
        } catch {
            for connection in opened {
                let _: Void? = try? await connection.close()
            }
            throw error
        }
    }

    // MARK: - ConsentStore

    public func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        try Self.validate(subject: subject)
        return try await withGate { () throws(ConsentStoreError) -> ConsentRecord? in
            // Round-robin: connections are opened in serialized mode (SQLITE_OPEN_FULLMUTEX), so two
            // lookups that meet on one connection are safe; they just take turns.
            let index = Int(nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(readers.count))
            let rows: [SQLiteRow]
            do {
                rows = try await readers[index].query(Self.lookupSQL, [.text(subject)])
            } catch {
                throw .sqlite("lookup", error, redacting: subject)
            }
            guard let row = rows.first else { return nil }
            return try Self.record(subject: subject, row: row)
        }
    }

    /// Checks that the file at ``path`` is still the one that was opened (a database deleted or replaced
    /// underneath a running server is not ready), then runs `SELECT 1` on every read connection.
    public func ping() async throws(ConsentStoreError) {
        try await withGate { () throws(ConsentStoreError) in
            for reader in readers {
                try await SQLiteSchema.execute(reader, "SELECT 1", "ping")
            }
        }
    }

    public func close() async {
        guard await gate.closeAndDrain() else { return }
        // Closing must finish even when the caller's task is cancelled (shutdown cancels tasks):
        // an SQLite connection that is never closed traps in its deinit.
        let connections = [writer] + readers
        let logger = self.logger
        await Task {
            for connection in connections {
                do {
                    let _: Void = try await connection.close()
                } catch {
                    logger.warning("closing an SQLite connection failed", metadata: ["error": "\(ConsentStoreError.sqlite("close", error))"])
                }
            }
        }.value
        logger.info("closed the SQLite consent store")
    }

    // MARK: - WritableConsentStore

    public func put(subject: String, preferences: [CategoryPreference], at time: Date) async throws(ConsentStoreError) -> ConsentRecord {
        try Self.validate(subject: subject)
        let updatedAt = try Self.milliseconds(time)
        let normalized = ConsentRecord.normalized(preferences)
        let json = PreferencesJSON.encode(normalized)
        return try await withGate { () throws(ConsentStoreError) -> ConsentRecord in
            let rows: [SQLiteRow] = try await write("put", redacting: subject) {
                try await $0.query(Self.upsertSQL, [.text(subject), .text(json), .integer(numericCast(updatedAt))])
            }
            guard let row = rows.first, case .integer(let version)? = row.column("version"),
                case .integer(let storedAt)? = row.column("updated_at")
            else {
                throw ConsentStoreError(.invalidData, "put: the upsert returned no record")
            }
            return ConsentRecord(subject: subject, preferences: normalized, version: Int64(version), updatedAt: Self.date(Int64(storedAt)))
        }
    }

    public func delete(subject: String) async throws(ConsentStoreError) -> Bool {
        try Self.validate(subject: subject)
        return try await withGate { () throws(ConsentStoreError) -> Bool in
            let rows: [SQLiteRow] = try await write("delete", redacting: subject) {
                try await $0.query("DELETE FROM consent_subjects WHERE subject = ?1 RETURNING 1 AS deleted", [.text(subject)])
            }
            return !rows.isEmpty
        }
    }

    /// Writes many subjects in transactions of ``Configuration/importTransactionSize``, with multi-row
    /// upserts, in subject order: a new subject gets version 1, an existing one its version bumped (a
    /// subject repeated in `records` is bumped once per occurrence, the last occurrence wins).
    ///
    /// Every subject is checked before anything is written. If a transaction fails, those committed
    /// before it stay; the error's reason says how many records they hold.
    /// - Returns: The number of records written, `records.count`.
    public func importRecords(
        _ records: [(subject: String, preferences: [CategoryPreference])],
        at time: Date
    ) async throws(ConsentStoreError) -> Int {
        for (index, record) in records.enumerated() where !Self.isValid(subject: record.subject) {
            throw ConsentStoreError(.invalidRequest, "import: record \(index) has an empty subject")
        }
        let updatedAt = try Self.milliseconds(time)
        let transactionSize = configuration.importTransactionSize
        let rowsPerStatement = configuration.importRowsPerStatement
        let fullStatementSQL = Self.importSQL(rows: rowsPerStatement)
        let order = Self.importOrder(records)

        return try await withGate { () throws(ConsentStoreError) -> Int in
            var written = 0
            while written < records.count {
                if Task.isCancelled {
                    throw ConsentStoreError(.unavailable, "import cancelled after \(written) records were committed")
                }
                let transaction = written..<min(written + transactionSize, records.count)
                // Encoded outside the write lock: puts need not wait for JSON work.
                var statements: [(sql: String, binds: [SQLiteData])] = []
                var start = transaction.lowerBound
                while start < transaction.upperBound {
                    let end = min(start + rowsPerStatement, transaction.upperBound)
                    var binds: [SQLiteData] = [.integer(numericCast(updatedAt))]
                    binds.reserveCapacity(1 + 2 * (end - start))
                    for index in order[start..<end] {
                        let record = records[index]
                        binds.append(.text(record.subject))
                        binds.append(.text(PreferencesJSON.encode(record.preferences)))
                    }
                    let sql = end - start == rowsPerStatement ? fullStatementSQL : Self.importSQL(rows: end - start)
                    statements.append((sql, binds))
                    start = end
                }
                try checkFileUnchanged()
                let committed = written
                let batch = statements
                do throws(ConsentStoreError) {
                    try await write("import") { connection in
                        try await Self.runTransaction(batch, on: connection)
                    }
                } catch {
                    throw ConsentStoreError(error.code, "\(error.reason) (import: \(committed) records were committed before this failure)")
                }
                written = transaction.upperBound
                logger.debug("imported consent records", metadata: ["written": "\(written)", "total": "\(records.count)"])
            }
            return written
        }
    }

    // MARK: - Internals

    private static let lookupSQL = "SELECT preferences, version, updated_at FROM consent_subjects WHERE subject = ?1"

    private static let upsertSQL = """
        INSERT INTO consent_subjects (subject, preferences, version, updated_at) VALUES (?1, ?2, 1, ?3)
        ON CONFLICT (subject) DO UPDATE SET preferences = excluded.preferences, version = consent_subjects.version + 1,
            updated_at = excluded.updated_at
        RETURNING version, updated_at
        """

    /// A multi-row upsert: `?1` is the shared time, then subject and preferences of each row.
    private static func importSQL(rows: Int) -> String {
        var sql = "INSERT INTO consent_subjects (subject, preferences, version, updated_at) VALUES "
        sql.reserveCapacity(sql.utf8.count + rows * 24 + 200)
        for row in 0..<rows {
            if row > 0 { sql += "," }
            sql += "(?\(2 + 2 * row),?\(3 + 2 * row),1,?1)"
        }
        sql += """
             ON CONFLICT (subject) DO UPDATE SET preferences = excluded.preferences, \
            version = consent_subjects.version + 1, updated_at = excluded.updated_at
            """
        return sql
    }

    /// The order an import writes `records` in: by the first 16 UTF-8 bytes of the subject (SQLite's
    /// byte order), then by position.
    ///
    /// In input order (random ids), every transaction dirtied pages all over the table and its commit
    /// wrote nearly the whole table to the WAL: 1M records took 19 s instead of 4. Subjects sharing a
    /// 16-byte prefix sit in one run of the b-tree anyway, so the prefix gives that locality; sorting
    /// whole strings cost 2 s more. Equal subjects keep input order: the last occurrence wins.
    private static func importOrder(_ records: [(subject: String, preferences: [CategoryPreference])]) -> [Int] {
        var keys: [(high: UInt64, low: UInt64, index: Int)] = []
        keys.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            var high: UInt64 = 0
            var low: UInt64 = 0
            var count = 0
            for byte in record.subject.utf8.prefix(16) {
                if count < 8 {
                    high |= UInt64(byte) << (56 - 8 * count)
                } else {
                    low |= UInt64(byte) << (56 - 8 * (count - 8))
                }
                count += 1
            }
            keys.append((high, low, index))
        }
        keys.sort { ($0.high, $0.low, $0.index) < ($1.high, $1.low, $1.index) }
        return keys.map(\.index)
    }

    private static func runTransaction(_ statements: [(sql: String, binds: [SQLiteData])], on connection: SQLiteConnection) async throws {
        // Typed results: with the result unused, `query` would resolve to sqlite-nio's future-returning
        // overload and not be awaited.
        let _: [SQLiteRow] = try await connection.query("BEGIN IMMEDIATE", [])
        do {
            for statement in statements {
                let _: [SQLiteRow] = try await connection.query(statement.sql, statement.binds)
            }
            let _: [SQLiteRow] = try await connection.query("COMMIT", [])
        } catch {
            // Leave the writer outside any transaction, whatever failed.
            let _: [SQLiteRow]? = try? await connection.query("ROLLBACK", [])
            throw error
        }
    }

    /// Runs `body` on the writer connection while holding the write lock.
    ///
    /// In an unstructured task: sqlite-nio drops work whose task is cancelled, and a cancelled caller must
    /// not leave the writer inside an open transaction (a ROLLBACK that never ran).
    private func write<T: Sendable>(
        _ operation: String,
        redacting subject: String? = nil,
        _ body: @escaping @Sendable (SQLiteConnection) async throws -> T
    ) async throws(ConsentStoreError) -> T {
        let writer = self.writer
        let writeLock = self.writeLock
        let result = await Task {
            await writeLock.withLock { () async -> Result<T, any Error> in
                do {
                    return .success(try await body(writer))
                } catch {
                    return .failure(error)
                }
            }
        }.value
        switch result {
        case .success(let value): return value
        case .failure(let error): throw .sqlite(operation, error, redacting: subject)
        }
    }

    /// Runs `body` unless the store is closed or its file is gone; closing waits for it.
    private func withGate<T>(_ body: () async throws(ConsentStoreError) -> T) async throws(ConsentStoreError) -> T {
        guard gate.enter() else {
            throw ConsentStoreError(.unavailable, "the SQLite consent store is closed")
        }
        defer { gate.leave() }
        try checkFileUnchanged()
        return try await body()
    }

    /// SQLite keeps reading and writing a file that was unlinked or renamed, so without this check a
    /// store whose file was deleted would answer from a file nobody will ever see again, and its writes
    /// would vanish at the next restart. One `stat` (well under a microsecond) per operation.
    private func checkFileUnchanged() throws(ConsentStoreError) {
        guard Self.fileIdentity(sqlitePath) == fileIdentity else {
            throw ConsentStoreError(.unavailable, "the SQLite file at \(path) was removed or replaced since the store opened")
        }
    }

    private static func record(subject: String, row: SQLiteRow) throws(ConsentStoreError) -> ConsentRecord {
        guard case .text(let json)? = row.column("preferences"), case .integer(let version)? = row.column("version"),
            case .integer(let updatedAt)? = row.column("updated_at")
        else {
            throw ConsentStoreError(.invalidData, "lookup: a stored record has columns of unexpected types")
        }
        guard version >= 1 else {
            throw ConsentStoreError(.invalidData, "lookup: a stored record has version \(version)")
        }
        let preferences: [CategoryPreference]
        do {
            preferences = try PreferencesJSON.decode(json)
        } catch {
            throw ConsentStoreError(.invalidData, "lookup: stored preferences are not a JSON object of booleans (\(error))")
        }
        return ConsentRecord(subject: subject, preferences: preferences, version: Int64(version), updatedAt: date(Int64(updatedAt)))
    }

    // MARK: - Validation and conversions

    private static func isValid(subject: String) -> Bool {
        !subject.isEmpty
    }

    private static func validate(subject: String) throws(ConsentStoreError) {
        guard isValid(subject: subject) else {
            throw ConsentStoreError(.invalidRequest, "the subject is empty")
        }
    }

    private static func validate(_ configuration: Configuration) throws(ConsentStoreError) {
        func require(_ condition: Bool, _ reason: String) throws(ConsentStoreError) {
            if !condition { throw ConsentStoreError(.invalidRequest, "SQLite store configuration: \(reason)") }
        }
        try require(configuration.readConnections >= 1, "readConnections must be at least 1")
        try require(configuration.busyTimeout >= .zero, "busyTimeout must not be negative")
        try require(configuration.pageCacheKiB >= 1, "pageCacheKiB must be at least 1")
        try require(configuration.importTransactionSize >= 1, "importTransactionSize must be at least 1")
        // sqlite-nio's SQLite allows 250 000 parameters per statement; two per row plus the time.
        try require((1...10_000).contains(configuration.importRowsPerStatement), "importRowsPerStatement must be in 1...10000")
    }

    /// The path as SQLite must see it.
    private static func sqlitePath(_ path: String) throws(ConsentStoreError) -> String {
        // An empty path or ":memory:" would give each connection its own private database.
        guard !path.isEmpty, path != ":memory:" else {
            throw ConsentStoreError(.invalidRequest, "the SQLite store needs a file path")
        }
        // sqlite-nio opens with SQLITE_OPEN_URI: a plain path must not read as a `file:` URI.
        if path.hasPrefix("file:") { return "./" + path }
        return path
    }

    private static func createParentDirectories(of path: String) throws(ConsentStoreError) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        guard !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) else { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ConsentStoreError(.unavailable, "cannot create the directory of the SQLite consent store at \(directory)")
        }
    }

    private static func connect(_ path: String, logger: Logger) async throws(ConsentStoreError) -> SQLiteConnection {
        do {
            return try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw .sqlite("cannot open the SQLite consent store at \(path)", error)
        }
    }

    private static func configureWriter(_ connection: SQLiteConnection, _ configuration: Configuration, logger: Logger) async throws(ConsentStoreError) {
        // First: replaces sqlite-nio's busy handler, which retries without sleeping and without end.
        try await SQLiteSchema.execute(connection, "PRAGMA busy_timeout = \(milliseconds(configuration.busyTimeout))", "set busy timeout")
        let mode = try await SQLiteSchema.execute(connection, "PRAGMA journal_mode = WAL", "set WAL journal mode")
        if mode.first?.columns.first?.data.string?.lowercased() != "wal" {
            // Still correct, but readers and the writer now block each other (e.g. a network file system).
            logger.warning("the SQLite consent store could not switch to WAL mode", metadata: ["journal_mode": "\(mode.first?.columns.first?.data.string ?? "?")"])
        }
        // NORMAL in WAL mode: a commit survives a crash of the process, the last ones may not survive a
        // power loss; the database is never corrupted.
        try await SQLiteSchema.execute(connection, "PRAGMA synchronous = NORMAL", "set synchronous")
        try await SQLiteSchema.execute(connection, "PRAGMA cache_size = -\(configuration.pageCacheKiB)", "set cache size")
        // A large import grows the WAL; keep it from staying that large afterwards.
        try await SQLiteSchema.execute(connection, "PRAGMA journal_size_limit = \(64 << 20)", "set journal size limit")
    }

    private static func configureReader(_ connection: SQLiteConnection, _ configuration: Configuration) async throws(ConsentStoreError) {
        try await SQLiteSchema.execute(connection, "PRAGMA busy_timeout = \(milliseconds(configuration.busyTimeout))", "set busy timeout")
        try await SQLiteSchema.execute(connection, "PRAGMA cache_size = -\(configuration.pageCacheKiB)", "set cache size")
        try await SQLiteSchema.execute(connection, "PRAGMA query_only = ON", "set query only")
    }

    private struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    private static func fileIdentity(_ path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// `updated_at` is stored in whole milliseconds since 1970.
    private static func milliseconds(_ date: Date) throws(ConsentStoreError) -> Int64 {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard milliseconds.isFinite, abs(milliseconds) < 1e15 else {
            throw ConsentStoreError(.invalidRequest, "the time of the write is out of range")
        }
        return Int64(milliseconds)
    }

    private static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
