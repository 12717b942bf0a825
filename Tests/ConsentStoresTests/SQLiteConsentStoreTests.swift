import ConsentCore
import ConsentStores
import Foundation
import Logging
import SQLiteNIO
import SegmentWire
import Synchronization
import Testing

/// A directory of its own for each test, removed afterwards.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-stores-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String = "consent.sqlite") -> String {
        url.appendingPathComponent(name).path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

let quietLogger = Logger(label: "consentgate.tests", factory: { _ in SwiftLogNoOpLogHandler() })

func openStore(_ path: String, _ configuration: SQLiteConsentStore.Configuration = .init()) async throws -> SQLiteConsentStore {
    try await SQLiteConsentStore.open(path: path, configuration: configuration, logger: quietLogger)
}

/// A connection of its own, behind the store's back, to inspect or damage the file.
func withRawConnection<T: Sendable>(_ path: String, _ body: (SQLiteConnection) async throws -> T) async throws -> T {
    let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: quietLogger)
    do {
        let result = try await body(connection)
        let _: Void = try await connection.close()
        return result
    } catch {
        let _: Void? = try? await connection.close()
        throw error
    }
}

func rawInteger(_ connection: SQLiteConnection, _ sql: String) async throws -> Int? {
    let rows: [SQLiteRow] = try await connection.query(sql, [])
    return rows.first?.columns.first?.data.integer.map { Int($0) }
}

func rawExecute(_ connection: SQLiteConnection, _ sql: String, _ binds: [SQLiteData] = []) async throws {
    let _: [SQLiteRow] = try await connection.query(sql, binds)
}

private func prefs(_ pairs: (String, Bool)...) -> [CategoryPreference] {
    pairs.map { CategoryPreference(category: $0.0, granted: $0.1) }
}

private let t0 = Date(timeIntervalSince1970: 1_700_000_000)

@Suite(.timeLimit(.minutes(2)))
struct SQLiteConsentStoreTests {
    // MARK: Reads and writes

    @Test func putLookupDelete() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path())
        #expect(store.kind == "sqlite")

        let stored = try await store.put(subject: "user-1", preferences: prefs(("Analytics", true), ("Advertising", false)), at: t0)
        #expect(stored.subject == "user-1")
        #expect(stored.preferences == prefs(("Advertising", false), ("Analytics", true)))
        #expect(stored.version == 1)
        #expect(stored.updatedAt == t0)

        let found = try await store.lookup(subject: "user-1")
        #expect(found == stored)
        #expect(found?.isGranted("Analytics") == true)
        #expect(found?.isGranted("Advertising") == false)

        #expect(try await store.delete(subject: "user-1") == true)
        #expect(try await store.lookup(subject: "user-1") == nil)
        #expect(try await store.delete(subject: "user-1") == false)
        await store.close()
    }

    @Test func unknownSubjectIsNil() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path())
        #expect(try await store.lookup(subject: "nobody") == nil)
        _ = try await store.put(subject: "somebody", preferences: [], at: t0)
        #expect(try await store.lookup(subject: "nobody") == nil)
        #expect(try await store.lookup(subject: "Somebody") == nil)
        await store.close()
    }

    @Test func putBumpsTheVersionAndReplacesThePreferences() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path())
        let first = try await store.put(subject: "u", preferences: prefs(("A", true), ("B", true)), at: t0)
        let second = try await store.put(subject: "u", preferences: prefs(("A", false)), at: t0.addingTimeInterval(60))
        let third = try await store.put(subject: "u", preferences: [], at: t0.addingTimeInterval(120))
        #expect([first.version, second.version, third.version] == [1, 2, 3])
        #expect(second.preferences == prefs(("A", false)))
        let found = try #require(try await store.lookup(subject: "u"))
        #expect(found == third)
        #expect(found.preferences.isEmpty)
        #expect(found.updatedAt == t0.addingTimeInterval(120))

        // Another subject has its own version.
        #expect(try await store.put(subject: "v", preferences: [], at: t0).version == 1)
        await store.close()
    }

    @Test func updatedAtIsKeptInWholeMilliseconds() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path())
        let stored = try await store.put(subject: "u", preferences: [], at: Date(timeIntervalSince1970: 1_700_000_000.123_9))
        #expect(stored.updatedAt == Date(timeIntervalSince1970: Double(1_700_000_000_123) / 1000))
        #expect(try await store.lookup(subject: "u")?.updatedAt == stored.updatedAt)
        await store.close()
    }

    @Test func repeatedCategoriesKeepTheLastValue() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path())
        let stored = try await store.put(subject: "u", preferences: prefs(("A", true), ("A", false)), at: t0)
        #expect(stored.preferences == prefs(("A", false)))
        #expect(try await store.lookup(subject: "u") == stored)
        await store.close()
    }

    @Test func emptySubjectIsAnInvalidRequest() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path())
        let lookup = await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: "") }
        #expect(lookup?.code == .invalidRequest)
        let put = await #expect(throws: ConsentStoreError.self) { try await store.put(subject: "", preferences: [], at: t0) }
        #expect(put?.code == .invalidRequest)
        let delete = await #expect(throws: ConsentStoreError.self) { try await store.delete(subject: "") }
        #expect(delete?.code == .invalidRequest)
        await store.close()
    }

    @Test func escapesAndUnicodeInSubjectsAndCategories() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let subjects = [
            "émile@例え.jp", "a\"b\\c'd", "'; DROP TABLE consent_subjects; --", "line\nbreak\ttab", "nul\u{0}inside",
            "😀👩‍👩‍👧", " leading and trailing ", "\u{2028}\u{FEFF}", "e\u{301}", String(repeating: "x", count: 10_000),
        ]
        let categories = prefs(
            ("Quote\"", true), ("Back\\slash", false), ("Slash/", true), ("Ctrl\u{1}\u{1F}", false), ("Nul\u{0}", true),
            ("Ünïcödé 例え 😀", true), ("", false), ("{\"json\":true}", true), ("line\nbreak", false)
        )
        var store = try await openStore(path)
        for (index, subject) in subjects.enumerated() {
            let stored = try await store.put(subject: subject, preferences: categories, at: t0.addingTimeInterval(Double(index)))
            #expect(stored.preferences == ConsentRecord.normalized(categories))
        }
        for subject in subjects {
            let found = try #require(try await store.lookup(subject: subject))
            #expect(found.subject == subject)
            #expect(found.preferences == ConsentRecord.normalized(categories))
        }
        // Subjects are compared byte for byte: a prefix before a NUL or another normalization is unknown.
        #expect(try await store.lookup(subject: "nul") == nil)
        #expect(try await store.lookup(subject: "\u{E9}mile@例え.jp") != nil)
        #expect(try await store.lookup(subject: "é") == nil)

        await store.close()
        store = try await openStore(path)
        for subject in subjects {
            #expect(try await store.lookup(subject: subject)?.preferences == ConsentRecord.normalized(categories))
        }
        // The stored text is the canonical JSON.
        let text = try await withRawConnection(path) { connection in
            let rows: [SQLiteRow] = try await connection.query(
                "SELECT preferences FROM consent_subjects WHERE subject = ?1",
                [.text("😀👩‍👩‍👧")]
            )
            return rows.first?.column("preferences")?.string
        }
        #expect(text == PreferencesJSON.encode(categories))
        await store.close()
    }

    // MARK: Durability and schema

    @Test func dataSurvivesARestart() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        var store = try await openStore(path)
        let kept = try await store.put(subject: "kept", preferences: prefs(("Analytics", true)), at: t0)
        _ = try await store.put(subject: "bumped", preferences: [], at: t0)
        _ = try await store.put(subject: "gone", preferences: [], at: t0)
        #expect(try await store.delete(subject: "gone"))
        await store.close()

        store = try await openStore(path)
        #expect(try await store.lookup(subject: "kept") == kept)
        #expect(try await store.lookup(subject: "gone") == nil)
        #expect(try await store.put(subject: "bumped", preferences: [], at: t0).version == 2)
        await store.close()
    }

    @Test func createsTheFileAndItsDirectories() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("data/nested/consent.sqlite")
        let store = try await openStore(path)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(store.path == path)
        try await store.ping()
        await store.close()
    }

    @Test func refusesAMissingDirectoryWhenToldNotToCreateIt() async throws {
        let directory = try TemporaryDirectory()
        let error = await #expect(throws: ConsentStoreError.self) {
            try await openStore(directory.path("missing/consent.sqlite"), .init(createsParentDirectories: false))
        }
        #expect(error?.code == .unavailable)
    }

    @Test func refusesADirectoryAsTheFile() async throws {
        let directory = try TemporaryDirectory()
        let error = await #expect(throws: ConsentStoreError.self) { try await openStore(directory.url.path) }
        #expect(error?.code == .unavailable)
    }

    @Test func refusesAFileThatIsNotADatabase() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        try Data(String(repeating: "not a database\n", count: 500).utf8).write(to: URL(fileURLWithPath: path))
        let error = await #expect(throws: ConsentStoreError.self) { try await openStore(path) }
        #expect(error?.code == .unavailable)
    }

    @Test func refusesUnusablePathsAndConfigurations() async throws {
        for path in ["", ":memory:"] {
            let error = await #expect(throws: ConsentStoreError.self) { try await openStore(path) }
            #expect(error?.code == .invalidRequest)
        }
        let directory = try TemporaryDirectory()
        for configuration in [
            SQLiteConsentStore.Configuration(readConnections: 0),
            .init(importTransactionSize: 0),
            .init(importRowsPerStatement: 0),
            .init(importRowsPerStatement: 200_000),
        ] {
            let error = await #expect(throws: ConsentStoreError.self) { try await openStore(directory.path(), configuration) }
            #expect(error?.code == .invalidRequest)
        }
    }

    @Test func recordsTheSchemaVersionInTheFile() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path)
        await store.close()
        #expect(SQLiteConsentStore.schemaVersion == 1)
        let (version, applicationID, journalMode) = try await withRawConnection(path) { connection in
            let rows: [SQLiteRow] = try await connection.query("PRAGMA journal_mode", [])
            return (
                try await rawInteger(connection, "PRAGMA user_version"),
                try await rawInteger(connection, "PRAGMA application_id"),
                rows.first?.columns.first?.data.string
            )
        }
        #expect(version == SQLiteConsentStore.schemaVersion)
        #expect(applicationID == 0x6367_7374)
        #expect(journalMode == "wal")
    }

    @Test func refusesANewerSchemaVersion() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path)
        _ = try await store.put(subject: "u", preferences: [], at: t0)
        await store.close()
        try await withRawConnection(path) { try await rawExecute($0, "PRAGMA user_version = 99") }

        let error = await #expect(throws: ConsentStoreError.self) { try await openStore(path) }
        #expect(error?.code == .invalidData)
        #expect(error?.reason.contains("99") == true)
        // Nothing was touched.
        #expect(try await withRawConnection(path) { try await rawInteger($0, "PRAGMA user_version") } == 99)
    }

    @Test func refusesAnotherApplicationsDatabase() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        try await withRawConnection(path) { try await rawExecute($0, "CREATE TABLE other (x INTEGER)") }
        let unmarked = await #expect(throws: ConsentStoreError.self) { try await openStore(path) }
        #expect(unmarked?.code == .invalidData)

        try await withRawConnection(path) { try await rawExecute($0, "PRAGMA application_id = 42") }
        let marked = await #expect(throws: ConsentStoreError.self) { try await openStore(path) }
        #expect(marked?.code == .invalidData)
    }

    @Test func openingAnExistingVersionOneFileIsANoOp() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        // A version 1 file as a released consentgate would have left it, built by hand.
        let schemaBefore: [String] = try await withRawConnection(path) { connection in
            try await rawExecute(connection, "PRAGMA journal_mode = WAL")
            try await rawExecute(
                connection,
                """
                CREATE TABLE consent_subjects (
                    subject TEXT PRIMARY KEY NOT NULL,
                    preferences TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID
                """
            )
            try await rawExecute(connection, "PRAGMA user_version = 1")
            try await rawExecute(connection, "PRAGMA application_id = \(0x6367_7374)")
            try await rawExecute(
                connection,
                "INSERT INTO consent_subjects VALUES (?1, ?2, 7, ?3)",
                [.text("old"), .text(#"{"Analytics":true}"#), .integer(1_700_000_000_000)]
            )
            let rows: [SQLiteRow] = try await connection.query("SELECT sql FROM sqlite_schema ORDER BY name", [])
            return rows.compactMap { $0.column("sql")?.string }
        }

        for _ in 0..<2 {
            let store = try await openStore(path)
            let found = try #require(try await store.lookup(subject: "old"))
            #expect(found.version == 7)
            #expect(found.preferences == prefs(("Analytics", true)))
            #expect(found.updatedAt == t0)
            await store.close()
        }

        let (schemaAfter, version, changes) = try await withRawConnection(path) { connection in
            let rows: [SQLiteRow] = try await connection.query("SELECT sql FROM sqlite_schema ORDER BY name", [])
            return (
                rows.compactMap { $0.column("sql")?.string },
                try await rawInteger(connection, "PRAGMA user_version"),
                try await rawInteger(connection, "SELECT count(*) FROM consent_subjects")
            )
        }
        #expect(schemaAfter == schemaBefore)
        #expect(version == 1)
        #expect(changes == 1)
    }

    // MARK: Import

    @Test func importsManyRecordsInTransactions() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path, .init(importTransactionSize: 30_000, importRowsPerStatement: 700))
        _ = try await store.put(subject: "subject-000042", preferences: prefs(("Old", true)), at: t0)

        let count = 100_000
        let records = (0..<count).map { index in
            (
                subject: "subject-\(String(format: "%06d", index))",
                preferences: prefs(("Analytics", index % 2 == 0), ("Advertising", index % 3 == 0))
            )
        }
        let written = try await store.importRecords(records, at: t0)
        #expect(written == count)

        #expect(try await withRawConnection(path) { try await rawInteger($0, "SELECT count(*) FROM consent_subjects") } == count)
        for index in [0, 1, 29_999, 30_000, 59_999, 99_998, 99_999] {
            let found = try #require(try await store.lookup(subject: records[index].subject))
            #expect(found.version == 1)
            #expect(found.updatedAt == t0)
            #expect(found.isGranted("Analytics") == (index % 2 == 0))
            #expect(found.isGranted("Advertising") == (index % 3 == 0))
        }
        // An existing subject is replaced and bumped.
        let bumped = try #require(try await store.lookup(subject: "subject-000042"))
        #expect(bumped.version == 2)
        #expect(!bumped.isGranted("Old"))

        // Importing again bumps everyone; a subject repeated in one import is bumped per occurrence, last one wins.
        let again = try await store.importRecords(
            [
                (subject: "subject-000000", preferences: prefs(("X", true))),
                (subject: "subject-000000", preferences: prefs(("X", false))),
                (subject: "new", preferences: []),
            ],
            at: t0
        )
        #expect(again == 3)
        let repeated = try #require(try await store.lookup(subject: "subject-000000"))
        #expect(repeated.version == 3)
        #expect(repeated.preferences == prefs(("X", false)))
        #expect(try await store.lookup(subject: "new")?.version == 1)
        await store.close()
    }

    @Test func importRefusesAnEmptySubjectBeforeWritingAnything() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path, .init(importTransactionSize: 2))
        let error = await #expect(throws: ConsentStoreError.self) {
            try await store.importRecords(
                [(subject: "a", preferences: []), (subject: "b", preferences: []), (subject: "", preferences: [])],
                at: t0
            )
        }
        #expect(error?.code == .invalidRequest)
        #expect(try await store.lookup(subject: "a") == nil)
        #expect(try await store.importRecords([], at: t0) == 0)
        await store.close()
    }

    @Test func aFailedImportKeepsCommittedTransactionsAndTheWriterUsable() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path, .init(busyTimeout: .milliseconds(50), importTransactionSize: 10))
        let records = (0..<30).map { (subject: "s\($0)", preferences: [CategoryPreference]()) }
        // A second writer holds the write lock: the store's transactions time out.
        let blocker = try await SQLiteConnection.open(storage: .file(path: path), logger: quietLogger)
        try await rawExecute(blocker, "BEGIN IMMEDIATE")
        let error = await #expect(throws: ConsentStoreError.self) { try await store.importRecords(records, at: t0) }
        #expect(error?.code == .unavailable)
        #expect(error?.reason.contains("0 records were committed") == true)
        try await rawExecute(blocker, "ROLLBACK")
        let _: Void = try await blocker.close()

        // No transaction was left open on the writer: a put commits and survives a restart.
        _ = try await store.put(subject: "after", preferences: [], at: t0)
        #expect(try await store.importRecords(records, at: t0) == 30)
        await store.close()
        let reopened = try await openStore(path)
        #expect(try await reopened.lookup(subject: "after") != nil)
        #expect(try await reopened.lookup(subject: "s29") != nil)
        await reopened.close()
    }

    // MARK: Failures are never "unknown"

    @Test func aClosedStoreThrows() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path())
        _ = try await store.put(subject: "u", preferences: [], at: t0)
        await store.close()
        await store.close()
        let lookup = await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: "u") }
        #expect(lookup?.code == .unavailable)
        let unknown = await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: "unknown") }
        #expect(unknown?.code == .unavailable)
        await #expect(throws: ConsentStoreError.self) { try await store.ping() }
        await #expect(throws: ConsentStoreError.self) { try await store.put(subject: "u", preferences: [], at: t0) }
        await #expect(throws: ConsentStoreError.self) { try await store.delete(subject: "u") }
        await #expect(throws: ConsentStoreError.self) { try await store.importRecords([(subject: "u", preferences: [])], at: t0) }
    }

    @Test func aRemovedFileFailsEveryOperation() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path)
        _ = try await store.put(subject: "known", preferences: prefs(("A", true)), at: t0)
        try await store.ping()
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: path + suffix)
        }

        // SQLite alone would keep answering from the unlinked file, and accept writes that vanish at restart.
        for subject in ["known", "unknown"] {
            let error = await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: subject) }
            #expect(error?.code == .unavailable)
            #expect(error?.reason.contains(subject) == false)
        }
        let ping = await #expect(throws: ConsentStoreError.self) { try await store.ping() }
        #expect(ping?.code == .unavailable)
        let put = await #expect(throws: ConsentStoreError.self) { try await store.put(subject: "known", preferences: [], at: t0) }
        #expect(put?.code == .unavailable)
        await #expect(throws: ConsentStoreError.self) { try await store.delete(subject: "known") }
        await #expect(throws: ConsentStoreError.self) { try await store.importRecords([(subject: "x", preferences: [])], at: t0) }
        await store.close()
    }

    @Test func aFileReplacedUnderneathFailsLookupsAndPing() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path)
        _ = try await store.put(subject: "known", preferences: [], at: t0)
        try FileManager.default.moveItem(atPath: path, toPath: directory.path("moved.sqlite"))
        let other = try await openStore(path)
        await other.close()
        let error = await #expect(throws: ConsentStoreError.self) { try await store.ping() }
        #expect(error?.code == .unavailable)
        await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: "known") }
        await store.close()
    }

    @Test func aCorruptedFileThrowsOnLookup() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        var store = try await openStore(path)
        _ = try await store.importRecords((0..<5_000).map { (subject: "s\($0)", preferences: prefs(("A", true))) }, at: t0)
        await store.close()
        // Fresh connections, then the file overwritten in place: the readers have cached nothing of it.
        store = try await openStore(path)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: size))
        try handle.close()

        for subject in ["s1", "s4999", "unknown"] {
            let error = await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: subject) }
            #expect(error?.code == .unavailable)
            #expect(error?.reason.contains(subject) == false)
        }
        await store.close()
    }

    @Test func aDroppedTableThrowsWithoutNamingTheSubject() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path)
        _ = try await store.put(subject: "secret-subject-1234", preferences: [], at: t0)
        try await withRawConnection(path) { try await rawExecute($0, "DROP TABLE consent_subjects") }

        for subject in ["secret-subject-1234", "another-secret-5678"] {
            let error = await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: subject) }
            #expect(error?.code == .unavailable)
            #expect(error.map { !$0.reason.contains(subject) && !$0.description.contains(subject) } == true)
        }
        let put = await #expect(throws: ConsentStoreError.self) {
            try await store.put(subject: "secret-subject-1234", preferences: [], at: t0)
        }
        #expect(put.map { !$0.reason.contains("secret") } == true)
        await store.close()
    }

    @Test(arguments: [
        "UPDATE consent_subjects SET preferences = 'not json'",
        #"UPDATE consent_subjects SET preferences = '{"A":1}'"#,
        #"UPDATE consent_subjects SET preferences = '{"A":true,"A":false}'"#,
        "UPDATE consent_subjects SET preferences = x'7b7d'",
        "UPDATE consent_subjects SET version = 'one'",
        "UPDATE consent_subjects SET version = 0",
        "UPDATE consent_subjects SET updated_at = 1.5",
    ])
    func unreadableStoredDataIsInvalidData(_ damage: String) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path()
        let store = try await openStore(path)
        _ = try await store.put(subject: "u", preferences: prefs(("A", true)), at: t0)
        try await withRawConnection(path) { try await rawExecute($0, damage) }
        let error = await #expect(throws: ConsentStoreError.self) { try await store.lookup(subject: "u") }
        #expect(error?.code == .invalidData)
        #expect(try await store.lookup(subject: "other") == nil)
        await store.close()
    }

    // MARK: Concurrency

    @Test func concurrentLookupsAndPuts() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path(), .init(readConnections: 3))
        let subjects = (0..<500).map { "subject-\($0)" }
        _ = try await store.importRecords(subjects.map { (subject: $0, preferences: prefs(("A", true))) }, at: t0)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for round in 0..<4 {
                for (index, subject) in subjects.enumerated() {
                    group.addTask {
                        let found = try await store.lookup(subject: subject)
                        #expect(found?.subject == subject)
                        #expect(found?.isGranted("A") == true)
                        if index % 50 == round { #expect(try await store.lookup(subject: "missing-\(index)") == nil) }
                    }
                }
            }
            try await group.waitForAll()
        }

        // Concurrent puts to one subject are serialized: every version from 1 to 100 is handed out once.
        let versions = try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<100 {
                group.addTask {
                    try await store.put(subject: "contended", preferences: prefs(("N\(index)", true)), at: t0).version
                }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(versions.sorted() == Array(1...100))
        #expect(try await store.lookup(subject: "contended")?.version == 100)
        await store.close()
    }

    @Test func lookupsAndPutsProceedDuringAnImport() async throws {
        let directory = try TemporaryDirectory()
        let store = try await openStore(directory.path(), .init(importTransactionSize: 10_000))
        let before = try await store.put(subject: "before", preferences: prefs(("A", true)), at: t0)
        let records = (0..<150_000).map { (subject: "bulk-\($0)", preferences: prefs(("B", $0 % 2 == 0))) }

        let importDone = Flag()
        let importTask = Task {
            defer { importDone.set() }
            return try await store.importRecords(records, at: t0)
        }
        var lookupsDuringImport = 0
        var putsDuringImport = 0
        repeat {
            #expect(try await store.lookup(subject: "before") == before)
            lookupsDuringImport += 1
            if lookupsDuringImport % 20 == 0 {
                _ = try await store.put(subject: "during-\(putsDuringImport)", preferences: [], at: t0)
                putsDuringImport += 1
            }
            await Task.yield()
        } while !importDone.isSet

        #expect(try await importTask.value == records.count)
        #expect(lookupsDuringImport > 0)
        for index in 0..<putsDuringImport {
            #expect(try await store.lookup(subject: "during-\(index)")?.version == 1)
        }
        #expect(try await store.lookup(subject: "bulk-149999")?.isGranted("B") == false)
        await store.close()
    }
}

/// A flag set by one task and read by another.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
