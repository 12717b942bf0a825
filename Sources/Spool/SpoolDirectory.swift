#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The files of a spool directory and how a segment is read back on open.
///
/// ```
/// <directory>/LOCK                          flock'd by the open log
/// <directory>/00000000000000000007.log      a segment: magic, then frames (SpoolFrame)
/// <directory>/00000000000000000007.done     its done-marks (SpoolDoneMarks)
/// <directory>/dead-letters/*.dead           one dead letter each (SpoolDeadLetter)
/// *.tmp                                     a file being created, or a spare (a finished segment kept
///                                           to be recycled as the next one); removed on open
/// ```
enum SpoolDirectory {
    static let lockName = "LOCK"
    static let deadLettersName = "dead-letters"
    /// Segments are read in chunks of this size on open, so recovery's memory does not grow with them.
    static let scanChunkBytes = 1 << 20

    static func segmentName(_ segment: UInt64) -> String {
        let digits = String(segment)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    static func doneName(_ segment: UInt64) -> String {
        String(segmentName(segment).dropLast(4)) + ".done"
    }

    /// The number of a segment file's or done-marks file's name; nil for any other name.
    static func number(of name: String, suffix: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count == 20, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(stem)
    }

    /// The segment numbers and done-marks numbers present, each sorted.
    static func contents(_ directory: String) throws(SpoolError) -> (segments: [UInt64], doneMarks: [UInt64], temporary: [String]) {
        let names = try SpoolFiles.list(directory)
        return (
            names.compactMap { number(of: $0, suffix: ".log") }.sorted(),
            names.compactMap { number(of: $0, suffix: ".done") }.sorted(),
            names.filter { $0.hasSuffix(".tmp") }
        )
    }

    /// A segment's whole records, and where the readable part ends.
    struct ScannedSegment: Sendable {
        struct Record: Hashable, Sendable {
            var offset: UInt64
            var frameBytes: Int64
            var acceptedAt: Int64
        }

        var records: [Record] = []
        /// The first byte that is not part of a whole record (the file's size when nothing is damaged).
        var validEnd: Int64 = 0
        var size: Int64 = 0
        /// False when the file does not start with the segment magic (none of it is readable).
        var hasHeader = true
        /// What its frames' CRCs are XORed with: ``SpoolFrame/key(segment:)``, or 0 in a version-1 segment.
        var key: UInt32 = 0
    }

    /// Reads a segment from the start, stopping at the first frame that is cut short or fails its CRC
    /// (see `SpoolFrame` for why nothing after it is read). Does not change the file.
    static func scanSegment(_ fd: Int32, _ path: String, segment: UInt64) throws(SpoolError) -> ScannedSegment {
        var scanned = ScannedSegment()
        let size = try SpoolFiles.size(fd, path)
        scanned.size = size
        let magic = SpoolFrame.segmentMagic
        switch try SpoolFiles.read(fd, count: magic.count, at: 0, path) {
        case magic: scanned.key = SpoolFrame.key(segment: segment)
        case SpoolFrame.segmentMagicVersion1: scanned.key = 0
        default:
            scanned.hasHeader = false
            return scanned
        }
        var offset = Int64(magic.count)
        var needed = 0
        scanning: while offset < size {
            let count = Int(min(Int64(max(scanChunkBytes, needed)), size - offset))
            let chunk = try SpoolFiles.read(fd, count: count, at: offset, path)
            let (frames, stop) = chunk.withUnsafeBytes { SpoolFrame.scan($0, key: scanned.key) }
            for frame in frames {
                let payload = chunk[(frame.offset + SpoolFrame.headerBytes)..<(frame.offset + frame.frameCount)]
                let acceptedAt = payload.withUnsafeBytes { raw in
                    try? SpooledBatch.acceptedAt(raw)
                }
                guard let acceptedAt else {
                    // Whole and intact, but not a payload this build can read: treated as damage.
                    offset += Int64(frame.offset)
                    break scanning
                }
                scanned.records.append(
                    .init(offset: UInt64(offset) + UInt64(frame.offset), frameBytes: Int64(frame.frameCount), acceptedAt: acceptedAt))
            }
            switch stop {
            case .end:
                if chunk.count < count { break scanning }  // the file shrank under a reader without the lock
                offset += Int64(chunk.count)
                needed = 0
            case .needMore(let at, let bytes):
                if offset + Int64(at) + Int64(bytes) > size || chunk.count < count {
                    offset += Int64(at)  // a torn tail
                    break scanning
                }
                offset += Int64(at)
                needed = bytes
            case .corrupt(let at):
                offset += Int64(at)
                break scanning
            }
        }
        scanned.validEnd = min(offset, size)
        return scanned
    }

    /// The done-marks of a segment, and the byte count of their intact prefix (0 when there is no file).
    static func readDoneMarks(_ path: String) throws(SpoolError) -> (offsets: Set<UInt64>, validCount: Int, size: Int64) {
        guard SpoolFiles.exists(path) else { return ([], 0, 0) }
        let fd = try SpoolFiles.openFile(path, O_RDONLY)
        defer { SpoolFiles.closeFile(fd) }
        let size = try SpoolFiles.size(fd, path)
        let bytes = try SpoolFiles.read(fd, count: Int(size), at: 0, path)
        let (offsets, validCount) = bytes.withUnsafeBytes { SpoolDoneMarks.decode($0) }
        return (Set(offsets), validCount, size)
    }
}
