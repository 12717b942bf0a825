/// A point in monotonic time for the consent cache: nanoseconds since an arbitrary origin.
///
/// The cache never reads a clock; its driver converts its clock's instants (see
/// ``init(_:since:)``) and tests simply count nanoseconds. Eight bytes, so cache entries stay small.
public struct CacheInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since the origin (may be negative).
    public var nanoseconds: Int64

    /// The instant `nanoseconds` after the origin.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The origin itself.
    public static let zero = CacheInstant(nanoseconds: 0)

    /// A `ContinuousClock` instant, as the time elapsed since `origin`.
    public init(_ instant: ContinuousClock.Instant, since origin: ContinuousClock.Instant) {
        self.nanoseconds = CacheInstant.nanoseconds(of: origin.duration(to: instant))
    }

    /// The instant `duration` later (earlier when negative), saturating at the representable range.
    public func advanced(by duration: Duration) -> CacheInstant {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(CacheInstant.nanoseconds(of: duration))
        if overflow { return CacheInstant(nanoseconds: duration < .zero ? .min : .max) }
        return CacheInstant(nanoseconds: sum)
    }

    /// The time from this instant to `other` (negative when `other` is earlier).
    public func duration(to other: CacheInstant) -> Duration {
        let (difference, overflow) = other.nanoseconds.subtractingReportingOverflow(nanoseconds)
        if overflow { return .nanoseconds(other.nanoseconds > nanoseconds ? Int64.max : Int64.min) }
        return .nanoseconds(difference)
    }

    /// The instant `rhs` after `lhs` (see ``advanced(by:)``).
    public static func + (lhs: CacheInstant, rhs: Duration) -> CacheInstant {
        lhs.advanced(by: rhs)
    }

    /// The instant `rhs` before `lhs`.
    public static func - (lhs: CacheInstant, rhs: Duration) -> CacheInstant {
        lhs.advanced(by: .zero - rhs)
    }

    /// The time from `rhs` to `lhs`.
    public static func - (lhs: CacheInstant, rhs: CacheInstant) -> Duration {
        rhs.duration(to: lhs)
    }

    public static func < (lhs: CacheInstant, rhs: CacheInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public var description: String { "\(nanoseconds)ns" }

    /// A duration in whole nanoseconds (truncated toward zero), saturating at the `Int64` range.
    public static func nanoseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }
}
