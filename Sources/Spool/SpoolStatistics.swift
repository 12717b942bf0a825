/// Counters since open, for tests, metrics and the benchmark ("one fsync per commit interval").
public struct SpoolStatistics: Sendable, Equatable {
    /// Records made durable by `append` (requeued dead letters included).
    public var appends: Int = 0
    /// Group commits: each wrote the appends gathered in one commit interval and synced them once.
    public var commits: Int = 0
    /// Every `fsync`/`fdatasync` the spool issued: commits, segment creation, done-marks, dead letters.
    public var fsyncs: Int = 0
    /// Records found damaged and cut on open (a torn tail or a bad CRC), or unreadable when handed out.
    public var corruptRecords: Int = 0
    /// Bytes cut from segment tails on open.
    public var cutBytes: Int64 = 0
    /// Times a caller woke the writer thread: once per group commit, done-mark interval or deletion, not
    /// once per append or completion.
    public var writerWakeups: Int = 0
    /// Segments started by renaming a finished one (its blocks already allocated, so a commit's
    /// `fdatasync` has no file size or block map to journal) instead of creating a file.
    public var recycledSegments: Int = 0

    public init() {}
}
