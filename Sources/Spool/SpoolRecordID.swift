/// Where a record lives: its segment's number and the byte offset of its frame in that segment.
/// Ids order as the log does (older segment first, then earlier offset).
public struct SpoolRecordID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var segment: UInt64
    public var offset: UInt64

    public init(segment: UInt64, offset: UInt64) {
        self.segment = segment
        self.offset = offset
    }

    public static func < (lhs: SpoolRecordID, rhs: SpoolRecordID) -> Bool {
        (lhs.segment, lhs.offset) < (rhs.segment, rhs.offset)
    }

    public var description: String { "\(segment):\(offset)" }
}
