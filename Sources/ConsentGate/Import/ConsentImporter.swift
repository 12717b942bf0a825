public import ConsentCore
import ConsentStores
public import FoundationEssentials
public import Logging
import SegmentWire

/// `consentgate consent import FILE`: loads JSON lines
/// `{"subject": "...", "categoryPreferences": {"Advertising": false, ...}}` into the store of record.
///
/// The file is streamed in 4 MiB chunks and each line read by ``ConsentLineParser`` (see there for
/// exactly what a line may hold). Lines are validated as they come and handed to
/// ``WritableConsentStore/importRecords(_:at:)`` in batches of ``defaultBatchSize``; the SQLite store
/// sorts each batch and commits it in transactions of 50 000. The next batch is parsed while one is
/// written. A bad line stops the import: its batch is not written, the batches before it stay
/// committed, and the error names the line and how many subjects were written (for a file of up to
/// one batch: none). Blank lines are skipped; when a subject appears on several lines the last one
/// wins. Every record gets the same `updatedAt`, the time the import started.
public enum ConsentImporter {
    /// Subjects per store write: a million (the import then peaks at about 200 MB).
    ///
    /// Large on purpose. The store sorts what it is given, so a transaction touches one narrow run of
    /// the table; with 50 000 random ids per write instead, every commit rewrote pages all over the
    /// table, and a million subjects took 22 s instead of 9 (measured on a 2-core VM whose disk syncs
    /// in ~4 ms; SQLite alone needs 7 s there for the same rows).
    public static let defaultBatchSize = 1_000_000

    /// Opens the configured store, imports `file` into it, and closes the store whatever happens.
    ///
    /// - Throws: ``ConsentImportError``: ``ConsentImportError/Kind/storeNotWritable`` when the
    ///   configured store is not one consentgate writes, and every failure of
    ///   ``importFile(_:into:batchSize:at:logger:)``.
    public static func run(
        file: String,
        configuration: GatewayConfiguration,
        logger: Logger,
        batchSize: Int = defaultBatchSize
    ) async throws(ConsentImportError) -> ImportReport {
        // The file first: a typo in its name must not create an empty database.
        var reader = try openReader(file)
        let opened: any ConsentStore
        do {
            opened = try await StoreFactory.open(configuration.store, logger: logger)
        } catch {
            throw ConsentImportError(kind: .storeFailed, problem: error.description)
        }
        guard let store = opened as? any WritableConsentStore else {
            await opened.close()
            throw ConsentImportError(
                kind: .storeNotWritable,
                problem: "the \(opened.kind) store is read-only for consentgate: import into a store it owns (store.kind: sqlite or postgres)")
        }
        do {
            let report = try await importLines(from: &reader, into: store, batchSize: batchSize, at: .now, logger: logger)
            await store.close()
            return report
        } catch {
            await store.close()
            throw error
        }
    }

    /// Imports the JSON lines of the file at `path` into an open store (which stays open).
    ///
    /// - Parameters:
    ///   - batchSize: Records per ``WritableConsentStore/importRecords(_:at:)`` call.
    ///   - time: The `updatedAt` of every record written.
    /// - Throws: ``ConsentImportError`` for an unreadable file, a bad line, or a store failure.
    public static func importFile(
        _ path: String,
        into store: any WritableConsentStore,
        batchSize: Int = defaultBatchSize,
        at time: Date = .now,
        logger: Logger = Logger(label: "consentgate.import")
    ) async throws(ConsentImportError) -> ImportReport {
        var reader = try openReader(path)
        return try await importLines(from: &reader, into: store, batchSize: batchSize, at: time, logger: logger)
    }

    private static func openReader(_ path: String) throws(ConsentImportError) -> LineReader {
        do {
            return try LineReader(path: path)
        } catch {
            throw ConsentImportError(kind: .unreadableFile, problem: error.description)
        }
    }

    private typealias Batch = [(subject: String, preferences: [CategoryPreference])]

    private static func importLines(
        from reader: inout LineReader,
        into store: any WritableConsentStore,
        batchSize: Int,
        at time: Date,
        logger: Logger
    ) async throws(ConsentImportError) -> ImportReport {
        let batchSize = max(1, batchSize)
        let clock = ContinuousClock()
        let started = clock.now
        var progress = Progress()
        var interner = PreferenceInterner()
        var batch: Batch = []
        batch.reserveCapacity(batchSize)
        // The batch being written while the next one is parsed (SQLite works on the thread pool).
        var pending: (task: Task<Int, any Error>, lastLine: Int)?

        while true {
            let next: UnsafeBufferPointer<UInt8>?
            do {
                next = try reader.nextLine()
            } catch {
                try await progress.settle(&pending)
                throw progress.failure(error.line == nil ? .unreadableFile : .invalidLine, line: error.line, problem: error.description)
            }
            guard var line = next else { break }
            if reader.lineNumber == 1 { line = dropByteOrderMark(line) }
            do throws(ConsentLineError) {
                if let parsed = try ConsentLineParser.parse(line) {
                    batch.append((parsed.subject, interner.intern(parsed.preferences)))
                }
            } catch {
                try await progress.settle(&pending)
                throw progress.failure(.invalidLine, line: reader.lineNumber, problem: error.description)
            }
            if batch.count == batchSize {
                try await progress.settle(&pending)
                let records = batch
                pending = (Task { try await store.importRecords(records, at: time) }, reader.lineNumber)
                batch = []
                batch.reserveCapacity(batchSize)
                logger.debug("import batch handed to the store", metadata: ["through_line": "\(reader.lineNumber)"])
            }
        }
        try await progress.settle(&pending)
        if !batch.isEmpty {
            let records = batch
            pending = (Task { try await store.importRecords(records, at: time) }, reader.lineNumber)
            try await progress.settle(&pending)
        }
        return ImportReport(subjects: progress.imported, lines: reader.lineNumber, duration: clock.now - started)
    }

    /// A UTF-8 byte order mark, which some editors put at the start of a file, is not part of line 1.
    private static func dropByteOrderMark(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard line.count >= 3, line[0] == 0xEF, line[1] == 0xBB, line[2] == 0xBF else { return line }
        return UnsafeBufferPointer(rebasing: line[3...])
    }

    /// What has been committed so far.
    private struct Progress {
        var imported = 0
        var importedThroughLine = 0

        /// Waits for the batch being written, if any, and counts it.
        mutating func settle(_ pending: inout (task: Task<Int, any Error>, lastLine: Int)?) async throws(ConsentImportError) {
            guard let (task, lastLine) = pending else { return }
            pending = nil
            do {
                imported += try await task.value
                importedThroughLine = lastLine
            } catch {
                let reason = (error as? ConsentStoreError)?.description ?? "\(error)"
                throw failure(.storeFailed, problem: "the store failed while writing: \(reason)")
            }
        }

        func failure(_ kind: ConsentImportError.Kind, line: Int? = nil, problem: String) -> ConsentImportError {
            ConsentImportError(kind: kind, line: line, problem: problem, imported: imported, importedThroughLine: importedThroughLine)
        }
    }
}
