import SegmentWire
import Spool

extension SpooledBatch {
    /// The bound on a spooled gzip body inflated to be read (the ingress took it within its own limit).
    static let inflateLimit = 64 << 20

    /// The body's JSON: inflated when it is gzip, `nil` when that fails.
    var json: [UInt8]? {
        guard contentEncoding == "gzip" else { return body }
        return try? body.withUnsafeBytes { try Inflater.inflate($0, coding: .gzip, limit: Self.inflateLimit) }
    }
}
