public import ConsentCore
import FoundationEssentials
public import Logging
internal import NIOCore
internal import NIOSSL
internal import PostgresNIO
public import SegmentWire
import Synchronization

/// The store of record for many replicas: one PostgreSQL table, `consent_subjects`, that every replica
/// reads and that anyone may write — consentgate's consent API and `consent import`, or the customer's
/// own SQL.
///
/// Lookups, puts, deletes and imports go through a connection pool (postgres-nio's `PostgresClient`,
/// ``Configuration/poolSize`` connections), each bounded by ``Configuration/operationTimeout``: while
/// PostgreSQL is down an operation fails within that time with ``ConsentStoreError/Code/timeout`` or
/// ``ConsentStoreError/Code/unavailable``, never with "unknown subject".
///
/// Every change to a row sends `NOTIFY` (see ``PostgresSchema``). After
/// ``startInvalidations(_:)``, a dedicated connection listens and reports each changed subject; when
/// that connection is lost it reports ``ConsentInvalidation/all`` (changes may be missed), reconnects
/// with backoff, and reports ``ConsentInvalidation/all`` again once it listens.
///
/// Subjects are bound as parameters, never put into SQL text, and never appear in errors or logs.
public final class PostgresConsentStore: WritableConsentStore, InvalidatingConsentStore {
    /// How the store uses PostgreSQL.
    public struct Configuration: Sendable {
        /// `store.postgres.url`.
        public var url: PostgresURL
        /// `store.postgres.pool_size`: the most pooled connections (the listener's is extra).
        public var poolSize: Int
        /// `store.postgres.channel`: the `NOTIFY` channel.
        public var channel: String
        /// `store.postgres.timeout_seconds`: the deadline of a lookup, put, delete or ping, waiting for
        /// a pooled connection included.
        public var operationTimeout: Duration
        /// The deadline of one import transaction.
        public var importTransactionTimeout: Duration
        /// The deadline of opening: connecting and migrating the schema.
        public var openTimeout: Duration
        /// How long one connection attempt may take.
        public var connectTimeout: Duration
        /// Subjects per import transaction; a failed import keeps the transactions already committed.
        public var importTransactionSize: Int
        /// Subjects per import statement (sent as two arrays, so no parameter limit applies).
        public var importRowsPerStatement: Int
        /// The listener's reconnect backoff.
        public var reconnectBackoff: ReconnectBackoff
        /// How often the listening connection is checked with `SELECT 1`.
        public var heartbeatInterval: Duration
        /// How long the listener waits for that check before it counts the connection as lost.
        public var heartbeatTimeout: Duration

        public init(
            url: PostgresURL,
            poolSize: Int = 8,
            channel: String = "consentgate_subjects",
            operationTimeout: Duration = .seconds(2),
            importTransactionTimeout: Duration = .seconds(120),
            openTimeout: Duration = .seconds(30),
            connectTimeout: Duration = .seconds(5),
            importTransactionSize: Int = 10_000,
            importRowsPerStatement: Int = 1_000,
            reconnectBackoff: ReconnectBackoff = ReconnectBackoff(),
            heartbeatInterval: Duration = .seconds(5),
            heartbeatTimeout: Duration = .seconds(3)
        ) {
            self.url = url
            self.poolSize = poolSize
            self.channel = channel
            self.operationTimeout = operationTimeout
            self.importTransactionTimeout = importTransactionTimeout
            self.openTimeout = openTimeout
            self.connectTimeout = connectTimeout
            self.importTransactionSize = importTransactionSize
            self.importRowsPerStatement = importRowsPerStatement
            self.reconnectBackoff = reconnectBackoff
            self.heartbeatInterval = heartbeatInterval
            self.heartbeatTimeout = heartbeatTimeout
        }
    }

    /// The schema version this code reads and writes.
    public static var schemaVersion: Int { PostgresSchema.latestVersion }

    /// Whether `channel` can be a ``Configuration/channel``: 1 to 40 lower-case letters, digits or `_`,
    /// not starting with a digit.
    public static func isValidChannel(_ channel: String) -> Bool {
        PostgresSchema.isValidChannel(channel)
    }

    public var kind: String { "postgres" }
    public var maxConcurrentLookups: Int { configuration.poolSize }
    public let configuration: Configuration

    private let pool: PostgresPool
    private let listenerConnection: PostgresConnection.Configuration
    private let listenerTask = Mutex<Task<Void, Never>?>(nil)
    private let gate = OperationGate()
    private let logger: Logger

    private init(configuration: Configuration, pool: PostgresPool, listenerConnection: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.pool = pool
        self.listenerConnection = listenerConnection
        self.logger = logger
    }

    /// Connects, creates or migrates the schema, and creates the channel's `NOTIFY` triggers if missing.
    ///
    /// - Throws: ``ConsentStoreError/Code/invalidRequest`` for an unusable configuration (or TLS files),
    ///   ``ConsentStoreError/Code/invalidData`` for a database whose schema consentgate must not touch,
    ///   ``ConsentStoreError/Code/unavailable`` or ``ConsentStoreError/Code/timeout`` when PostgreSQL
    ///   cannot be reached within ``Configuration/openTimeout``.
    public static func open(configuration: Configuration, logger: Logger) async throws(ConsentStoreError) -> PostgresConsentStore {
        try validate(configuration)
        let (clientConfiguration, connectionConfiguration) = try connectionSettings(configuration)
        let pool = PostgresPool(configuration: clientConfiguration, logger: logger)
        do throws(ConsentStoreError) {
            let client = pool.client
            let channel = configuration.channel
            let outcome = try await withDeadline(configuration.openTimeout, "open the PostgreSQL consent store") {
                () throws(ConsentStoreError) -> PostgresSchema.Outcome in
                do {
                    return try await client.withConnection { connection in
                        try await PostgresSchema.migrate(connection, channel: channel, logger: logger)
                    }
                } catch {
                    throw .postgres("open the PostgreSQL consent store", error)
                }
            }
            logger.info(
                "opened the PostgreSQL consent store",
                metadata: [
                    "url": "\(configuration.url.redacted)",
                    "schema_version": "\(PostgresSchema.latestVersion)",
                    "created": "\(outcome.foundVersion == 0)",
                    "channel": "\(configuration.channel)",
                    "pool_size": "\(configuration.poolSize)",
                ])
            return PostgresConsentStore(
                configuration: configuration, pool: pool, listenerConnection: connectionConfiguration, logger: logger)
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    // MARK: - ConsentStore

    public func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        try Self.validate(subject: subject)
        return try await operation("lookup", redacting: subject) { client in
            let rows = try await client.query(
                "SELECT preferences::text, version, updated_at FROM consent_subjects WHERE subject = \(subject)")
            var found: (String, Int64, Date)?
            // Read to the end: the pooled connection is returned only then.
            for try await row in rows.decode((String, Int64, Date).self) where found == nil {
                found = row
            }
            guard let (json, version, updatedAt) = found else { return nil }
            return try Self.record(subject: subject, json: json, version: version, updatedAt: updatedAt)
        }
    }

    /// Runs `SELECT 1` on a pooled connection.
    public func ping() async throws(ConsentStoreError) {
        try await operation("ping") { client in
            try await client.query("SELECT 1").drain()
        }
    }

    public func close() async {
        guard await gate.closeAndDrain() else { return }
        let listener = listenerTask.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        listener?.cancel()
        await listener?.value
        await pool.shutdown()
        logger.info("closed the PostgreSQL consent store")
    }

    // MARK: - InvalidatingConsentStore

    public func startInvalidations(_ handler: @escaping @Sendable (ConsentInvalidation) -> Void) {
        guard !gate.isClosed else { return }
        let pool = self.pool
        let listener = PostgresInvalidationListener(
            connection: listenerConnection,
            configuration: .init(
                channel: configuration.channel,
                backoff: configuration.reconnectBackoff,
                heartbeatInterval: configuration.heartbeatInterval,
                heartbeatTimeout: configuration.heartbeatTimeout),
            logger: logger,
            onListening: { pool.refreshIfFailing() },
            handler: handler)
        listenerTask.withLock { task in
            precondition(task == nil, "startInvalidations(_:) is called at most once")
            task = Task { await listener.run() }
        }
    }

    // MARK: - WritableConsentStore

    public func put(subject: String, preferences: [CategoryPreference], at time: Date) async throws(ConsentStoreError) -> ConsentRecord {
        try Self.validate(subject: subject)
        let normalized = ConsentRecord.normalized(preferences)
        let json = PreferencesJSON.encode(normalized)
        return try await operation("put", redacting: subject) { client in
            let rows = try await client.query(
                """
                INSERT INTO consent_subjects (subject, preferences, version, updated_at) VALUES (\(subject), \(json)::jsonb, 1, \(time))
                ON CONFLICT (subject) DO UPDATE SET preferences = excluded.preferences, version = consent_subjects.version + 1,
                    updated_at = excluded.updated_at
                RETURNING version, updated_at
                """)
            var stored: (Int64, Date)?
            for try await row in rows.decode((Int64, Date).self) where stored == nil {
                stored = row
            }
            guard let (version, updatedAt) = stored else {
                throw ConsentStoreError(.invalidData, "put: the upsert returned no record")
            }
            return ConsentRecord(subject: subject, preferences: normalized, version: version, updatedAt: updatedAt)
        }
    }

    public func delete(subject: String) async throws(ConsentStoreError) -> Bool {
        try Self.validate(subject: subject)
        return try await operation("delete", redacting: subject) { client in
            let rows = try await client.query("DELETE FROM consent_subjects WHERE subject = \(subject) RETURNING 1")
            var deleted = false
            for try await _ in rows.decode(Int32.self) { deleted = true }
            return deleted
        }
    }

    /// Writes many subjects in transactions of ``Configuration/importTransactionSize``, each statement
    /// upserting ``Configuration/importRowsPerStatement`` subjects from two arrays. A subject repeated in
    /// `records` is written once, with its last preferences (a row may be upserted once per statement);
    /// a new subject gets version 1, an existing one its version bumped.
    ///
    /// Every subject is checked before anything is written. If a transaction fails, those committed
    /// before it stay; the error's reason says how many records they hold.
    /// - Returns: `records.count`.
    public func importRecords(
        _ records: [(subject: String, preferences: [CategoryPreference])],
        at time: Date
    ) async throws(ConsentStoreError) -> Int {
        for (index, record) in records.enumerated() where !Self.isValid(subject: record.subject) {
            throw ConsentStoreError(.invalidRequest, "import: record \(index) has an empty subject")
        }
        var lastOccurrence: [String: Int] = [:]
        lastOccurrence.reserveCapacity(records.count)
        for (index, record) in records.enumerated() { lastOccurrence[record.subject] = index }
        let order = records.indices.filter { lastOccurrence[records[$0].subject] == $0 }

        var written = 0
        while written < order.count {
            if Task.isCancelled {
                throw ConsentStoreError(.unavailable, "import cancelled after \(written) subjects were committed")
            }
            let transaction = order[written..<min(written + configuration.importTransactionSize, order.count)]
            var statements: [(subjects: [String], preferences: [String])] = []
            var start = transaction.startIndex
            while start < transaction.endIndex {
                let end = min(start + configuration.importRowsPerStatement, transaction.endIndex)
                let slice = transaction[start..<end]
                statements.append((slice.map { records[$0].subject }, slice.map { PreferencesJSON.encode(records[$0].preferences) }))
                start = end
            }
            let committed = written
            let batch = statements
            do throws(ConsentStoreError) {
                try await operation("import", timeout: configuration.importTransactionTimeout) { client in
                    try await client.withConnection { connection in
                        try await Self.runImportTransaction(batch, at: time, on: connection)
                    }
                }
            } catch {
                throw ConsentStoreError(error.code, "\(error.reason) (import: \(committed) subjects were committed before this failure)")
            }
            written = transaction.endIndex
            logger.debug("imported consent records", metadata: ["written": "\(written)", "total": "\(order.count)"])
        }
        return records.count
    }

    // MARK: - Internals

    private static func runImportTransaction(
        _ statements: [(subjects: [String], preferences: [String])],
        at time: Date,
        on connection: PostgresConnection
    ) async throws {
        try await connection.query("BEGIN", logger: connection.logger).drain()
        do {
            for statement in statements {
                try await connection.query(
                    """
                    INSERT INTO consent_subjects (subject, preferences, version, updated_at)
                    SELECT s, p::jsonb, 1, \(time) FROM unnest(\(statement.subjects)::text[], \(statement.preferences)::text[]) AS t(s, p)
                    ON CONFLICT (subject) DO UPDATE SET preferences = excluded.preferences, version = consent_subjects.version + 1,
                        updated_at = excluded.updated_at
                    """,
                    logger: connection.logger
                ).drain()
            }
            try await connection.query("COMMIT", logger: connection.logger).drain()
        } catch {
            // Leave the pooled connection outside any transaction, whatever failed.
            try? await connection.query("ROLLBACK", logger: connection.logger).drain()
            throw error
        }
    }

    /// Runs `body` on the pool within the deadline, unless the store is closed; closing waits for it.
    private func operation<T: Sendable>(
        _ name: String,
        timeout: Duration? = nil,
        redacting subject: String? = nil,
        _ body: @escaping @Sendable (PostgresClient) async throws -> T
    ) async throws(ConsentStoreError) -> T {
        guard gate.enter() else {
            throw ConsentStoreError(.unavailable, "the PostgreSQL consent store is closed")
        }
        defer { gate.leave() }
        let client = pool.client
        do {
            let value = try await withDeadline(timeout ?? configuration.operationTimeout, name) { () throws(ConsentStoreError) -> T in
                do {
                    return try await body(client)
                } catch {
                    throw .postgres(name, error, redacting: subject)
                }
            }
            pool.record(failed: false)
            return value
        } catch {
            if error.code == .unavailable || error.code == .timeout { pool.record(failed: true) }
            throw error
        }
    }

    private static func record(subject: String, json: String, version: Int64, updatedAt: Date) throws(ConsentStoreError) -> ConsentRecord {
        let preferences: [CategoryPreference]
        do {
            preferences = try PreferencesJSON.decode(json)
        } catch {
            throw ConsentStoreError(.invalidData, "lookup: stored preferences are not a JSON object of booleans (\(error))")
        }
        return ConsentRecord(subject: subject, preferences: preferences, version: version, updatedAt: updatedAt)
    }

    // MARK: - Validation and settings

    private static func isValid(subject: String) -> Bool {
        // PostgreSQL text cannot hold NUL.
        !subject.isEmpty && !subject.utf8.contains(0)
    }

    private static func validate(subject: String) throws(ConsentStoreError) {
        guard isValid(subject: subject) else {
            throw ConsentStoreError(.invalidRequest, "the subject is empty or contains a NUL character")
        }
    }

    private static func validate(_ configuration: Configuration) throws(ConsentStoreError) {
        func require(_ condition: Bool, _ reason: String) throws(ConsentStoreError) {
            if !condition { throw ConsentStoreError(.invalidRequest, "PostgreSQL store configuration: \(reason)") }
        }
        try require((1...1_000).contains(configuration.poolSize), "poolSize must be in 1...1000")
        try require(
            PostgresSchema.isValidChannel(configuration.channel),
            "channel must be 1 to 40 lower-case letters, digits or '_', not starting with a digit")
        try require(configuration.operationTimeout > .zero, "operationTimeout must be positive")
        try require(configuration.importTransactionTimeout > .zero, "importTransactionTimeout must be positive")
        try require(configuration.openTimeout > .zero, "openTimeout must be positive")
        try require(configuration.connectTimeout > .zero, "connectTimeout must be positive")
        try require(configuration.importTransactionSize >= 1, "importTransactionSize must be at least 1")
        try require(configuration.importRowsPerStatement >= 1, "importRowsPerStatement must be at least 1")
        try require(configuration.heartbeatInterval > .zero, "heartbeatInterval must be positive")
        try require(configuration.heartbeatTimeout > .zero, "heartbeatTimeout must be positive")
    }

    private static func connectionSettings(
        _ configuration: Configuration
    ) throws(ConsentStoreError) -> (PostgresClient.Configuration, PostgresConnection.Configuration) {
        let url = configuration.url
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let rootCertificatePath = url.rootCertificatePath {
            tlsConfiguration.additionalTrustRoots = [.file(rootCertificatePath)]
        }
        let clientTLS: PostgresClient.Configuration.TLS
        let connectionTLS: PostgresConnection.Configuration.TLS
        do {
            switch url.tlsMode {
            case .disable:
                clientTLS = .disable
                connectionTLS = .disable
            case .prefer:
                clientTLS = .prefer(tlsConfiguration)
                connectionTLS = .prefer(try NIOSSLContext(configuration: tlsConfiguration))
            case .require, .verifyFull:
                clientTLS = .require(tlsConfiguration)
                connectionTLS = .require(try NIOSSLContext(configuration: tlsConfiguration))
            }
        } catch {
            throw ConsentStoreError(.invalidRequest, "PostgreSQL store configuration: cannot set up TLS (sslrootcert or system roots)")
        }

        var client = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: clientTLS)
        client.options.maximumConnections = configuration.poolSize
        // One warm connection; the pool requires fewer than its maximum.
        client.options.minimumConnections = min(1, configuration.poolSize - 1)
        client.options.connectTimeout = configuration.connectTimeout
        var connection = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: connectionTLS)
        connection.options.connectTimeout = TimeAmount.nanoseconds(Self.nanoseconds(configuration.connectTimeout))
        return (client, connection)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
