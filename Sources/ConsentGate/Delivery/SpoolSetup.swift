import Spool

extension GatewayConfiguration.Delivery {
    /// `delivery.spool.*` as the log takes it, for the spool at `path` (the configured one by default).
    func spoolConfiguration(path: String? = nil) -> SpoolConfiguration {
        var configuration = SpoolConfiguration(directory: path ?? spool.path)
        configuration.maxBytes = spool.maxBytes
        configuration.commitInterval = .milliseconds(spool.commitIntervalMilliseconds)
        return configuration
    }

    /// `delivery.retry.*` and `delivery.max_age_hours` as the retry machine takes them.
    var retryPolicy: BatchDelivery.Policy {
        BatchDelivery.Policy(
            initial: .milliseconds(Int64(retry.initialSeconds * 1000)),
            maximum: .milliseconds(Int64(retry.maxSeconds * 1000)),
            maxAge: .milliseconds(Int64(maxAgeHours * 3_600_000)))
    }


    /// Opens (and locks) the spool at `path`, the configured one by default.
    /// - Throws: a ``ConfigurationError`` on `delivery.spool.path` saying why, e.g. another process holds it.
    func openSpool(path: String? = nil) throws(ConfigurationError) -> SpoolLog {
        let configuration = spoolConfiguration(path: path)
        do {
            return try SpoolLog.open(configuration)
        } catch {
            let why = error.code == .locked
                ? "is locked by another consentgate (one gateway per spool; stop it, or give this one its own path)"
                : "cannot be opened: \(error)"
            throw ConfigurationError(key: "delivery.spool.path", "'\(configuration.directory)' \(why)")
        }
    }
}

extension GatewayConfiguration {
    /// The deliverer's settings: `delivery.*`, and the upstream's gzip level for a late batch written again.
    var delivererSettings: SpoolDeliverer.Settings {
        SpoolDeliverer.Settings(
            policy: delivery.retryPolicy, maxInFlight: delivery.maxInFlight, sentAt: SentAtCorrection(gzipLevel: Int32(upstream.gzipLevel)))
    }
}

/// What the admin side reads of a spool: metrics at scrape time, the debugger's depth and age, readiness.
struct SpoolObservation: Sendable {
    let log: SpoolLog

    /// The age of the oldest undelivered batch in seconds, 0 when there is none.
    static func oldestAgeSeconds(_ status: SpoolStatus, nowMilliseconds: Int64) -> Double {
        guard let oldest = status.oldestAcceptedAtMilliseconds else { return 0 }
        return Double(max(0, nowMilliseconds - oldest)) / 1000
    }

    /// Brings the spool gauges up to date.
    func sync(_ metrics: GatewayMetrics) {
        let status = log.status
        let statistics = log.statistics
        metrics.spool?.sync(
            bytes: status.bytes, batches: status.batches,
            oldestAgeSeconds: Self.oldestAgeSeconds(status, nowMilliseconds: WallClock.milliseconds()),
            deadLetters: status.deadLetters, isFull: log.isFull, fsyncs: statistics.fsyncs, commits: statistics.commits)
    }

    /// The debugger's `"spool"` member: `{"bytes":…,"batches":…,"oldest_age_seconds":…,"dead_letters":…,"full":…}`.
    func json() -> [UInt8] {
        let status = log.status
        let age = Self.oldestAgeSeconds(status, nowMilliseconds: WallClock.milliseconds())
        let counts = #"{"bytes":\#(status.bytes),"batches":\#(status.batches),"oldest_age_seconds":\#(age),"#
        return Array((counts + #""dead_letters":\#(status.deadLetters),"full":\#(log.isFull)}"#).utf8)
    }

    /// `/readyz`: not ready while the spool cannot take an average batch.
    func readinessProblem() -> String? {
        log.isFull ? "the spool is full (delivery.spool.max_bytes): Segment is slow or down" : nil
    }
}
