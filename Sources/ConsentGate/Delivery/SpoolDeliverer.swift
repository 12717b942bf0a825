#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import Logging
import NIOCore
import SegmentWire
import ServiceLifecycle
import Spool

/// Drains the spool of `delivery.mode: spool` to Segment: oldest record first, with
/// `delivery.max_in_flight` workers, each taking one batch at a time and sending it over its source's
/// upstream pool, retried as ``BatchDelivery`` decides. A batch is marked done only after a 2xx (at least once: Segment
/// deduplicates by `messageId`) or once it is safely among the dead letters.
///
/// Shutdown: after the ingress has stopped (it shuts down first), the deliverer takes no new record,
/// lets attempts already on the wire finish, abandons backoff waits (those batches stay in the log for
/// the next start), and closes the log.
struct SpoolDeliverer: Service {
    struct Settings: Sendable {
        var policy = BatchDelivery.Policy()
        var maxInFlight = 16
        /// How a batch that goes out late has its `sentAt` moved.
        var sentAt = SentAtCorrection()
    }

    let log: SpoolLog
    /// Each source's upstream by the name a spooled batch carries ("" for the top-level settings).
    let upstreams: [String: UpstreamForwarder]
    let settings: Settings
    let metrics: GatewayMetrics?
    let feed: DecisionFeed?
    let audit: AuditLog?
    let logger: Logger
    /// The wall clock, Unix epoch milliseconds (a batch's age is measured on it).
    let now: @Sendable () -> Int64
    let slots: DeliverySlots
    private let retryWarning: RateLimitedWarning
    private let sentAtWarning: RateLimitedWarning

    init(
        log: SpoolLog, upstreams: [String: UpstreamForwarder], settings: Settings, metrics: GatewayMetrics?, feed: DecisionFeed?,
        audit: AuditLog?, logger: Logger, now: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) {
        self.log = log
        self.upstreams = upstreams
        self.settings = settings
        self.metrics = metrics
        self.feed = feed
        self.audit = audit
        self.logger = logger
        self.now = now
        self.slots = DeliverySlots(limit: settings.maxInFlight)
        self.retryWarning = RateLimitedWarning("spooled batches could not be delivered yet: retrying with backoff", logger: logger)
        self.sentAtWarning = RateLimitedWarning(
            "a late spooled batch's sentAt is no ISO 8601 timestamp and was sent as it was: Segment places its events later by the delay",
            logger: logger)
    }

    /// The spooled batch's name for the top-level settings' source.
    static let defaultSourceName = ""

    /// Each source's upstream, keyed as the ingress names sources in a spooled batch.
    static func upstreams(_ sources: IngressSources) -> [String: UpstreamForwarder] {
        var upstreams = [defaultSourceName: sources.defaultEntry.route.forwarder]
        for entry in sources.entries { upstreams[entry.name] = entry.route.forwarder }
        return upstreams
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                await stop()
            }
            // Long-lived workers rather than a task per record: under load a record is waiting when a
            // worker asks, so a batch costs no task creation and no hand-off between tasks.
            for _ in 0..<slots.limit {
                group.addTask { await work() }
            }
        }
    }

    /// One worker: takes the oldest waiting record, delivers it, and again; it ends when shutdown stops
    /// the slots or closes the log.
    private func work() async {
        while !slots.isStopped {
            guard let record = await log.next(max: 1).first else { return }
            // Stopped meanwhile: the record stays in the log, undelivered, for the next start.
            guard slots.take() else { return }
            await deliver(record.id, record.batch)
            slots.release()
        }
    }

    /// Stops taking records, waits for the attempts on the wire, closes the log (which ends the workers'
    /// waits for a record). What ``run()`` does on graceful shutdown.
    func stop() async {
        slots.stop()
        await slots.waitUntilIdle()
        await log.close()
    }

    /// Whether every spooled batch is done: none waiting in the log, none in flight (for `spool drain`).
    var isDrained: Bool { slots.inFlight == 0 && log.status.batches == 0 }

    /// Sends one batch until it is delivered, dead-lettered, or shutdown leaves it for the next start.
    func deliver(_ id: SpoolRecordID, _ batch: SpooledBatch) async {
        guard let forwarder = upstreams[batch.source] else {
            deadLetter(id, batch, status: nil, responseBody: [], reason: .unknownSource)
            return
        }
        var machine = BatchDelivery(acceptedAtMilliseconds: batch.acceptedAtMilliseconds, policy: settings.policy)
        var random = SystemRandomNumberGenerator()
        let body = ByteBuffer(bytes: batch.body)
        let headers = ForwardedHeaders(
            authorization: batch.authorization, contentType: batch.contentType, userAgent: batch.userAgent,
            contentEncoding: batch.contentEncoding, forwardedFor: batch.forwardedFor)
        let source = batch.source.isEmpty ? GatewayConfiguration.Source.defaultName : batch.source
        while true {
            let attempt = correctedBody(batch, body, source: source)
            let started = ContinuousClock.now
            let outcome = await forwarder.forward(path: batch.path, headers: headers, body: attempt)
            metrics?.upstream(statusClass: outcome.statusClass, duration: ContinuousClock.now - started)
            metrics?.deliveryAttempt(outcome.deliveryLabel)
            feed?.upstream(outcome.statusClass)
            switch machine.attempted(outcome.batchOutcome, nowMilliseconds: now(), random: &random) {
            case .complete:
                log.complete(id)
                return
            case .deadLetter(let reason):
                var status: Int?
                var responseBody: [UInt8] = []
                if case .replied(let code, _, _, let answer) = outcome {
                    status = code
                    responseBody = Array(buffer: answer)
                }
                deadLetter(id, batch, status: status, responseBody: responseBody, reason: reason)
                return
            case .retry(let delay):
                retryWarning.emit([
                    LogKey.source: "\(source)", LogKey.reason: "\(outcome.deliveryLabel)",
                    "cg.retry_in_seconds": "\(BatchDelivery.milliseconds(delay) / 1000)",
                ])
                // Shutdown came first: the batch stays in the log, undelivered, for the next start.
                guard await slots.pause(delay) else { return }
            }
        }
    }

    /// The body of one attempt: the spooled bytes, or for a late attempt the same with `sentAt` moved by
    /// the delay (``SentAtCorrection``), counted.
    private func correctedBody(_ batch: SpooledBatch, _ body: ByteBuffer, source: String) -> ByteBuffer {
        let (attempt, correction) = settings.sentAt.body(for: batch, original: body, delay: now() - batch.acceptedAtMilliseconds)
        guard let correction else { return attempt }
        metrics?.sentAtCorrection(correction)
        if correction == .unreadable { sentAtWarning.emit([LogKey.source: "\(source)"]) }
        return attempt
    }

    /// Moves a batch to the dead letters: counted, audited (no payload, no subject) and logged.
    private func deadLetter(_ id: SpoolRecordID, _ batch: SpooledBatch, status: Int?, responseBody: [UInt8], reason: BatchDelivery.Reason) {
        let source = batch.source.isEmpty ? GatewayConfiguration.Source.defaultName : batch.source
        do {
            try log.deadLetter(id, batch, status: status, responseBody: responseBody, reason: reason.rawValue)
        } catch {
            // Not moved, so not completed either: the batch is delivered again after a restart.
            logger.error(
                "a spooled batch could not be moved to the dead letters; it stays in the spool",
                metadata: [LogKey.source: "\(source)", LogKey.reason: "\(reason.rawValue)", "cg.error": "\(error)"])
            return
        }
        metrics?.deadLetter(reason)
        let events = Self.auditedEvents(batch)
        if let audit, !audit.append(Self.auditRecords(batch, events: events, status: status, reason: reason)) {
            metrics?.auditWriteFailed()
        }
        logger.error(
            "a spooled batch became a dead letter",
            metadata: [
                LogKey.source: "\(source)", LogKey.reason: "\(reason.rawValue)", LogKey.status: "\(status.map(String.init) ?? "none")",
                LogKey.events: "\(events.count)", "cg.age_seconds": "\((now() - batch.acceptedAtMilliseconds) / 1000)",
            ])
    }

    /// Each event's `messageId` and type, read from the batch (inflated when gzip); one unnamed entry
    /// when the body cannot be read (it was valid when acknowledged, so this is unexpected).
    static func auditedEvents(_ batch: SpooledBatch) -> [(messageId: String?, type: String?)] {
        guard let json = batch.json else { return [(nil, nil)] }
        guard let route = TrackingRoute(path: batch.path) else { return [(nil, nil)] }
        let scanner = BatchScanner(limits: WireLimits())
        return json.withUnsafeBytes { bytes in
            guard let scanned = try? scanner.scan(bytes, route: route), !scanned.events.isEmpty else { return [(nil, nil)] }
            return scanned.events.map { event in
                (event.messageId.map { JSONString.decode($0, in: bytes) }, event.type?.name)
            }
        }
    }

    /// One audit record per event of a dead-lettered batch: `verdict` `undeliverable`, `action`
    /// `dead_letter`, the reason and Segment's status; no subject, no payload.
    static func auditRecords(
        _ batch: SpooledBatch, events: [(messageId: String?, type: String?)], status: Int?, reason: BatchDelivery.Reason
    ) -> [AuditRecord] {
        let time = Date.now.formatted(.iso8601)
        let source = batch.source.isEmpty ? GatewayConfiguration.Source.defaultName : batch.source
        let why = status.map { "\(reason.rawValue) (upstream \($0))" } ?? reason.rawValue
        return events.map { event in
            AuditRecord(
                time: time, requestId: nil, source: source, messageId: event.messageId, subject: nil, eventType: event.type,
                verdict: "undeliverable", action: "dead_letter", mode: "spool", over: [], under: [], recordVersion: nil, reason: why)
        }
    }
}

extension ForwardOutcome {
    /// What the retry machine needs of an outcome.
    var batchOutcome: BatchDelivery.Outcome {
        switch self {
        case .replied(let status, let retryAfter, let rateLimitReset, _):
            .replied(status: status, retryAfter: retryAfter, rateLimitReset: rateLimitReset)
        case .timedOut: .timedOut
        case .failed: .failed
        }
    }

    /// A bounded label of `consentgate_delivery_attempts_total`.
    var deliveryLabel: String {
        switch self {
        case .replied(let status, _, _, _) where (200..<300).contains(status): "delivered"
        case .replied(429, _, _, _): "rate_limited"
        case .replied(let status, _, _, _) where (400..<500).contains(status): "rejected"
        case .replied(let status, _, _, _) where status >= 500: "server_error"
        case .replied: "unexpected_status"
        case .timedOut: "timeout"
        case .failed: "connection_failed"
        }
    }
}

/// The wall clock in Unix epoch milliseconds: a spooled batch's acknowledgement time survives restarts,
/// so its age is measured on the wall clock, not on a monotonic one.
enum WallClock {
    @Sendable static func milliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}
