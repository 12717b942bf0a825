/// The retry state machine of one spooled batch: what the deliverer does after each attempt. Pure: the
/// wall clock comes in as `nowMilliseconds`, randomness as a generator, and it performs no I/O.
///
/// ```
///              attempt
///   ┌──────▶ (in flight) ── 2xx ─────────────────────────────▶ complete
///   │             │ ─────── other 4xx ───────────────────────▶ dead letter (rejected)
///   │             │ 429, 5xx, 1xx/3xx, timeout, no connection:
///   │             ├──────── older than max age ──────────────▶ dead letter (expired)
///   └─ waiting ◀──┘ else: wait max(full-jitter backoff, Retry-After / X-RateLimit-Reset)
/// ```
///
/// Backoff is "full jitter": a uniform draw from zero to `min(max, initial × 2^(failures − 1))`, so many
/// batches that failed together do not return together. A hint from Segment (`Retry-After` in seconds or
/// as an HTTP-date, or `X-RateLimit-Reset` in seconds) is a floor: the batch never returns earlier than
/// Segment asked, though at most ``Policy/maximumHint`` later, so a bogus header cannot park it for days.
struct BatchDelivery: Sendable, Hashable {
    /// `delivery.retry.*` and `delivery.max_age_hours`.
    struct Policy: Sendable, Hashable {
        var initial: Duration = .seconds(1)
        var maximum: Duration = .seconds(60)
        /// Past this age (from the batch's acknowledgement) a batch that fails again is a dead letter.
        var maxAge: Duration = .seconds(72 * 3600)

        /// The longest wait a `Retry-After` or `X-RateLimit-Reset` can impose.
        static let maximumHint: Duration = .seconds(3600)
    }

    /// What one attempt met.
    enum Outcome: Sendable, Hashable {
        case replied(status: Int, retryAfter: String?, rateLimitReset: String?)
        case timedOut
        case failed
    }

    /// Why a batch became a dead letter (a bounded label, also the audit record's reason).
    enum Reason: String, Sendable, Hashable, CaseIterable {
        /// Segment refused the batch with a 4xx other than 429: sending it again cannot help.
        case rejected
        /// Still not delivered past `delivery.max_age_hours`.
        case expired
        /// The batch names a source the configuration no longer has.
        case unknownSource = "unknown_source"
    }

    /// What the deliverer does next.
    enum Action: Sendable, Hashable {
        /// Delivered: mark the record done.
        case complete
        /// Attempt again after this long.
        case retry(after: Duration)
        /// Move the batch to the dead letters.
        case deadLetter(Reason)
    }

    /// When the batch was acknowledged (wall clock, Unix epoch milliseconds).
    let acceptedAtMilliseconds: Int64
    let policy: Policy
    /// Failed attempts so far.
    private(set) var failures = 0

    init(acceptedAtMilliseconds: Int64, policy: Policy) {
        self.acceptedAtMilliseconds = acceptedAtMilliseconds
        self.policy = policy
    }

    /// The next step after an attempt that met `outcome` at `nowMilliseconds`.
    mutating func attempted(
        _ outcome: Outcome, nowMilliseconds: Int64, random: inout some RandomNumberGenerator
    ) -> Action {
        var hint: Duration?
        switch outcome {
        case .replied(let status, _, _) where (200..<300).contains(status):
            return .complete
        case .replied(let status, _, _) where (400..<500).contains(status) && status != 429:
            return .deadLetter(.rejected)
        case .replied(_, let retryAfter, let rateLimitReset):
            hint = Self.hint(retryAfter: retryAfter, rateLimitReset: rateLimitReset, nowMilliseconds: nowMilliseconds)
        case .timedOut, .failed:
            break
        }
        failures += 1
        if nowMilliseconds - acceptedAtMilliseconds >= Self.milliseconds(policy.maxAge) {
            return .deadLetter(.expired)
        }
        let backoff = Self.backoff(failures: failures, policy: policy, random: &random)
        guard let hint else { return .retry(after: backoff) }
        return .retry(after: max(backoff, min(hint, Policy.maximumHint)))
    }

    /// Full jitter: uniform in `0 ... min(maximum, initial × 2^(failures − 1))`.
    static func backoff(failures: Int, policy: Policy, random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(failures: failures, policy: policy)
        let nanoseconds = Self.nanoseconds(ceiling)
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &random))
    }

    /// The upper bound of the backoff after `failures` failed attempts.
    static func ceiling(failures: Int, policy: Policy) -> Duration {
        // 2^62 ns is 146 years: past a few dozen doublings the cap has long applied.
        let doublings = min(max(failures - 1, 0), 62)
        let initial = nanoseconds(policy.initial)
        let (grown, overflow) = initial.multipliedReportingOverflow(by: Int64(1) << doublings)
        let cap = nanoseconds(policy.maximum)
        return .nanoseconds(overflow ? cap : min(grown, cap))
    }

    /// Segment's own delay: `Retry-After` (seconds or an HTTP-date) first, else `X-RateLimit-Reset`
    /// (seconds; a value that can only be a Unix time is read as one). `nil` when neither is readable.
    static func hint(retryAfter: String?, rateLimitReset: String?, nowMilliseconds: Int64) -> Duration? {
        if let retryAfter = retryAfter?.trimmingSpaces, !retryAfter.isEmpty {
            if let seconds = Int64(retryAfter), seconds >= 0 { return .seconds(seconds) }
            if let date = HTTPDate.millisecondsSinceEpoch(retryAfter) {
                return .milliseconds(max(0, date - nowMilliseconds))
            }
        }
        if let reset = rateLimitReset?.trimmingSpaces, let value = Double(reset), value.isFinite, value >= 0 {
            // Ten years of seconds: anything larger is a point in time, not a delay.
            if value > 315_360_000 { return .milliseconds(max(0, Int64(value * 1000) - nowMilliseconds)) }
            return .milliseconds(Int64(value * 1000))
        }
        return nil
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, overflow) = duration.components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : seconds + duration.components.attoseconds / 1_000_000_000
    }
}

/// The IMF-fixdate of HTTP (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), read without Foundation.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Unix epoch milliseconds of an IMF-fixdate, or `nil` when it is not one.
    static func millisecondsSinceEpoch(_ text: String) -> Int64? {
        // "Sun," "06" "Nov" "1994" "08:49:37" "GMT"
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5].uppercased() == "GMT",
            let day = Int64(parts[1]), (1...31).contains(day),
            let monthIndex = months.firstIndex(of: parts[2].lowercased()),
            let year = Int64(parts[3]), (1970...9999).contains(year)
        else { return nil }
        let time = parts[4].split(separator: ":")
        guard time.count == 3, let hour = Int64(time[0]), let minute = Int64(time[1]), let second = Int64(time[2]),
            (0..<24).contains(hour), (0..<60).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = daysFromCivil(year: year, month: Int64(monthIndex) + 1, day: day)
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
