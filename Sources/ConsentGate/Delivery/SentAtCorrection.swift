import NIOCore
import SegmentWire
import Spool

/// Keeps Segment's clock-skew correction right for a spooled batch that goes out late.
///
/// Segment computes an event's time as `receivedAt − (sentAt − originalTimestamp)`. A batch attempted
/// ``threshold`` or more after it was acknowledged goes out with every `sentAt` moved by that delay
/// (``SentAtShift``), as an SDK that retries stamps it again; its events keep the times they would have
/// had if Segment had taken the batch at once. A batch attempted sooner goes as it was acknowledged, byte
/// for byte: a deliverer that keeps up changes nothing.
struct SentAtCorrection: Sendable {
    /// What happened to a late batch's `sentAt`.
    enum Outcome: String, Sendable, CaseIterable {
        /// Every `sentAt` was moved by the delay.
        case moved
        /// A `sentAt` that is no ISO 8601 timestamp (or a body that could not be read) was left as it was:
        /// Segment places that batch's events later by the delay.
        case unreadable
        /// The batch has no `sentAt`: Segment corrects nothing and nothing needs moving.
        case absent
    }

    /// Segment takes `sentAt` and `receivedAt` to be at most a few hundred milliseconds apart; a batch
    /// attempted within a second of its acknowledgement is sent unchanged.
    static let threshold: Int64 = 1_000
    /// The upstream's gzip level, for a gzip body written again.
    var gzipLevel: Int32 = 1

    /// The body for an attempt `delay` milliseconds after the acknowledgement: `nil` outcome and the
    /// original bytes when the attempt is on time.
    func body(for batch: SpooledBatch, original: ByteBuffer, delay: Int64) -> (body: ByteBuffer, outcome: Outcome?) {
        guard delay >= Self.threshold else { return (original, nil) }
        guard let route = TrackingRoute(path: batch.path) else { return (original, .unreadable) }
        guard let json = batch.json else { return (original, .unreadable) }
        guard let shift = try? json.withUnsafeBytes({ try SentAtShift.shift($0, route: route, byMilliseconds: delay) }) else {
            return (original, .unreadable)
        }
        let outcome: Outcome = shift.unreadable > 0 ? .unreadable : shift.moved > 0 ? .moved : .absent
        guard let moved = shift.body else { return (original, outcome) }
        guard batch.contentEncoding == "gzip" else { return (ByteBuffer(bytes: moved), outcome) }
        return (moved.withUnsafeBytes { ByteBuffer(bytes: Gzip.compress($0, level: gzipLevel)) }, outcome)
    }
}
