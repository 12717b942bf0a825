/// What a spool holds, for `/readyz`, metrics and `consentgate spool status`.
public struct SpoolStatus: Sendable, Equatable {
    /// Bytes (frames, headers included) of records not yet delivered or dead-lettered.
    public var bytes: Int64
    /// Records not yet delivered or dead-lettered.
    public var batches: Int
    /// When the oldest of those records was acknowledged (Unix epoch ms), nil when there is none.
    public var oldestAcceptedAtMilliseconds: Int64?
    /// Files in `dead-letters/`.
    public var deadLetters: Int
    public var deadLetterBytes: Int64
    /// Segment files on disk.
    public var segments: Int

    public init(
        bytes: Int64 = 0,
        batches: Int = 0,
        oldestAcceptedAtMilliseconds: Int64? = nil,
        deadLetters: Int = 0,
        deadLetterBytes: Int64 = 0,
        segments: Int = 0
    ) {
        self.bytes = bytes
        self.batches = batches
        self.oldestAcceptedAtMilliseconds = oldestAcceptedAtMilliseconds
        self.deadLetters = deadLetters
        self.deadLetterBytes = deadLetterBytes
        self.segments = segments
    }
}
