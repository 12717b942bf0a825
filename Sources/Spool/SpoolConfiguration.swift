/// Where the spool lives and how it bounds itself (`delivery.spool.*`).
public struct SpoolConfiguration: Sendable, Hashable {
    /// The spool's directory (`delivery.spool.path`); created on open. It holds the segment files
    /// (`<20-digit number>.log`), their done-mark sidecars (`.done`), `LOCK` and `dead-letters/`.
    public var directory: String
    /// The most bytes of records not yet delivered or dead-lettered (`delivery.spool.max_bytes`).
    /// An append past it throws `.full` and writes nothing.
    public var maxBytes: Int64 = 1 << 30
    /// The least time between the starts of two group commits (`delivery.spool.commit_interval_ms`): one
    /// `fdatasync` covers every append that arrived within an interval, and an append that finds the last
    /// commit an interval or more in the past is committed at once. Zero commits what has arrived without
    /// waiting.
    public var commitInterval: Duration = .milliseconds(2)
    /// A segment file past this size is sealed and a new one started; a segment is deleted once every
    /// record in it is done, so this is also the granularity at which disk space comes back.
    public var segmentBytes: Int64 = 64 << 20

    public init(directory: String) {
        self.directory = directory
    }
}
