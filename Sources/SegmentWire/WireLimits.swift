/// Segment's request limits, applied to decompressed bytes.
public struct WireLimits: Sendable, Hashable {
    /// The largest single event: a single-event route's body, or one item of a batch (32 KB).
    public var maxEventBytes: Int
    /// The largest batch request body (500 KB).
    public var maxBatchBytes: Int
    /// The most events one batch may hold (2 500).
    public var maxEventsPerBatch: Int
    /// The deepest nesting of arrays and objects a document may have.
    public var maxDepth: Int

    public init(
        maxEventBytes: Int = 32 * 1024,
        maxBatchBytes: Int = 500 * 1024,
        maxEventsPerBatch: Int = 2_500,
        maxDepth: Int = 64
    ) {
        self.maxEventBytes = maxEventBytes
        self.maxBatchBytes = maxBatchBytes
        self.maxEventsPerBatch = maxEventsPerBatch
        self.maxDepth = maxDepth
    }
}
