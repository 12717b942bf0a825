/// The durable log of `delivery.mode: spool`.
public final class SpoolLog: Sendable {
    /// Takes an exclusive lock (`flock` on `directory/LOCK`; `.locked` if another open log holds it),
    /// creates the directory, cuts torn/corrupt tails at the last whole record, loads which records are done.
    public static func open(_ configuration: SpoolConfiguration) throws(SpoolError) -> SpoolLog {
        fatalError("todo")
    }

    /// Reads a spool's status without taking its lock (for `consentgate spool status` while a gateway runs).
    public static func inspect(directory: String) throws(SpoolError) -> SpoolStatus {
        fatalError("todo")
    }

    /// Returns once the record is durable (one fsync covers every append that arrived within
    /// `commitInterval`). Throws `.full` (nothing written) when it would exceed `maxBytes`.
    public func append(_ batch: SpooledBatch) async throws(SpoolError) -> SpoolRecordID {
        fatalError("todo")
    }

    /// Up to `max` durable records not yet handed out since open, oldest first. Suspends until at least
    /// one exists; returns [] once the log is closed.
    public func next(max: Int) async -> [(id: SpoolRecordID, batch: SpooledBatch)] {
        fatalError("todo")
    }

    /// The record was delivered: never handed out again, even after a restart (persisted lazily).
    public func complete(_ id: SpoolRecordID) {
        fatalError("todo")
    }

    /// Writes the batch to `directory/dead-letters/`, then completes the record.
    public func deadLetter(
        _ id: SpoolRecordID, _ batch: SpooledBatch, status: Int?, responseBody: [UInt8], reason: String
    ) throws(SpoolError) {
        fatalError("todo")
    }

    /// Appends every dead letter back to the log (durably) and removes it from dead-letters/.
    public func requeueDeadLetters() async throws(SpoolError) -> Int {
        fatalError("todo")
    }

    public var status: SpoolStatus { fatalError("todo") }

    /// Counters since open.
    public var statistics: SpoolStatistics { fatalError("todo") }

    /// Every fsync/fdatasync issued since open (`statistics.fsyncs`).
    public var fsyncCount: Int { statistics.fsyncs }

    /// True when the next append of an average batch would not fit (for /readyz).
    public var isFull: Bool { fatalError("todo") }

    /// Finishes pending commits, persists the done-marks, releases the lock.
    public func close() async {
        fatalError("todo")
    }
}
