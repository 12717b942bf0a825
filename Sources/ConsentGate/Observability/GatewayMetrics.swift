import ConsentCore
import Prometheus
import SegmentWire
import Synchronization

/// Every metric of the gateway, its handles created once here (the registry traps on conflicting
/// definitions, so each name is defined in exactly one place). Labels are bounded: routes, status
/// codes, verdicts, actions, the configured categories and source names; never an id, write key or path
/// parameter.
final class GatewayMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    static let routes = ["identify", "track", "page", "screen", "group", "alias", "batch", "unknown"]
    static let statuses = ["200", "204", "400", "401", "403", "404", "405", "413", "415", "429", "502", "503", "4xx", "5xx", "other"]
    static let verdicts = Verdict.allLabels + ["invalid"]
    static let actions = ConsentAction.allCases.map(\.label)
    static let lookupResults = ["hit", "miss", "negative_hit", "stale_served"]
    static let storeOutcomes = ["found", "not_found", "error"]
    static let upstreamClasses = ["2xx", "4xx", "5xx", "timeout", "error"]
    /// What happened to forwarded events' `context.ip` (``AddressEditCounts``).
    static let addressEdits = ["filled", "truncated", "removed", "dropped_event"]
    static let browserKinds = BrowserRoute.Kind.allCases.map(\.rawValue)
    /// From 50 µs: store lookups and upstream exchanges on loopback take well under a millisecond.
    static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    static let bodyBuckets: [Double] = [256, 1024, 4096, 16384, 65536, 131_072, 262_144, 524_288, 1_048_576]

    private let requests: [[Counter]]
    /// The per-event counters of each source, by name (`default` for the top-level settings).
    private let sources: [String: SourceCounters]
    private let cacheLookups: [Counter]
    private let cacheEntries: Gauge
    private let cacheEvictions: Counter
    private let coalesced: Counter
    private let storeDurations: [DurationHistogram]
    private let upstreamDurations: [DurationHistogram]
    private let bodyBytes: ValueHistogram
    private let inflight: Gauge
    private let auditFailures: Counter
    private let ready: Gauge
    private let addressEdits: [Counter]
    /// First-party analytics.js: requests by kind × outcome (``browserKinds`` × ``AssetCache/Outcome``).
    private let browserRequests: [[Counter]]
    private let removedDestinations: Counter
    /// Cache statistics already exported: counters only move forward by the difference.
    private let exported = Mutex(ConsentCacheStatistics())
    /// The spool's and the deliverer's metrics; `nil` in relay mode, whose exposition stays as it was.
    let spool: SpoolMetrics?

    /// One source's labels: its name and the categories its policy names (`policy.categories`).
    struct SourceLabels: Sendable, Hashable {
        var name: String
        var categories: [String]
    }

    /// A gateway without sources: the top-level settings only, under `default`.
    convenience init(
        categories: [String], build: BuildInfo = BuildInfo(inflater: .preferred),
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.init(sources: [SourceLabels(name: GatewayConfiguration.Source.defaultName, categories: categories)], build: build, registry: registry)
    }

    /// - Parameter sources: every source the gateway serves, the default one included; each gets its own
    ///   per-event counters under its `source` label, created here once.
    init(
        sources: [SourceLabels], build: BuildInfo = BuildInfo(inflater: .preferred),
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), spool: Bool = false
    ) {
        self.registry = registry
        self.spool = spool ? SpoolMetrics(registry: registry) : nil
        func name(_ metric: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "consentgate", metricName: metric, unitName: unit, helpText: help)
        }
        let requestsName = name("requests", unit: "total", "Tracking API requests by route and response status.")
        requests = Self.routes.map { route in
            Self.statuses.map { registry.makeCounter(descriptor: requestsName, labels: [("route", route), ("status", $0)]) }
        }
        let eventsName = name("events", unit: "total", "Events by source, consent verdict and the action taken.")
        let mismatchName = name(
            "consent_mismatch", unit: "total", "Categories a stamp got wrong, by source: over (stamp grants, truth denies) or under.")
        var counters: [String: SourceCounters] = [:]
        for source in sources where counters[source.name] == nil {
            counters[source.name] = SourceCounters(
                categories: source.categories,
                events: Self.eventLabels(source: source.name).map { row in
                    row.map { registry.makeCounter(descriptor: eventsName, labels: $0) }
                },
                mismatches: Self.mismatchLabels(source: source.name, categories: source.categories).map { row in
                    row.map { registry.makeCounter(descriptor: mismatchName, labels: $0) }
                })
        }
        self.sources = counters
        let lookupsName = name("cache_lookups", unit: "total", "Consent cache lookups by result.")
        cacheLookups = Self.lookupResults.map { registry.makeCounter(descriptor: lookupsName, labels: [("result", $0)]) }
        cacheEntries = registry.makeGauge(descriptor: name("cache_entries", "Subjects held in the consent cache."))
        cacheEvictions = registry.makeCounter(descriptor: name("cache_evictions", unit: "total", "Cache entries evicted to make room (LRU)."))
        coalesced = registry.makeCounter(
            descriptor: name("singleflight_coalesced", unit: "total", "Cache misses that waited for a store lookup already in flight."))
        let storeName = name("store_request_duration", unit: "seconds", "Duration of consent store lookups by outcome.")
        storeDurations = Self.storeOutcomes.map {
            registry.makeDurationHistogram(descriptor: storeName, labels: [("outcome", $0)], buckets: Self.durationBuckets)
        }
        let upstreamName = name("upstream_request_duration", unit: "seconds", "Duration of upstream (Segment) exchanges by status class.")
        upstreamDurations = Self.upstreamClasses.map {
            registry.makeDurationHistogram(descriptor: upstreamName, labels: [("status_class", $0)], buckets: Self.durationBuckets)
        }
        bodyBytes = registry.makeValueHistogram(
            descriptor: name("request_body", unit: "bytes", "Size of tracking API request bodies as received."), buckets: Self.bodyBuckets)
        inflight = registry.makeGauge(descriptor: name("inflight_requests", "Tracking API requests being handled."))
        auditFailures = registry.makeCounter(descriptor: name("audit_write_failures", unit: "total", "Audit log appends that failed."))
        let addressName = name(
            "client_ip_edits", unit: "total",
            "Events whose context.ip consentgate filled, truncated or removed, or dropped because it was ambiguous (ingress.client_ip, privacy.ip).")
        addressEdits = Self.addressEdits.map { registry.makeCounter(descriptor: addressName, labels: [("edit", $0)]) }
        ready = registry.makeGauge(descriptor: name("ready", "1 when the last /readyz check passed, 0 when it failed (set by each check)."))
        let browserName = name(
            "browser_cdn_requests", unit: "total", "First-party analytics.js requests by kind (settings, library, bundle) and how they were served.")
        browserRequests = Self.browserKinds.map { kind in
            AssetCache.Outcome.allCases.map { registry.makeCounter(descriptor: browserName, labels: [("kind", kind), ("outcome", $0.rawValue)]) }
        }
        removedDestinations = registry.makeCounter(
            descriptor: name("browser_destinations_removed", unit: "total", "Device-mode destinations removed from settings documents fetched from the CDN."))
        // Always 1; the labels carry the facts (the usual Prometheus idiom, joined on in queries).
        registry.makeGauge(
            descriptor: name("build_info", "The gateway's version and the library that inflates bodies (libdeflate | zlib)."),
            labels: [("version", BuildInfo.version), ("inflater", build.inflater.rawValue)]
        ).set(1.0)
    }

    // MARK: Recording

    /// One first-party analytics.js request, by its kind and how it was served.
    func browserAsset(kind: BrowserRoute.Kind, outcome: AssetCache.Outcome) {
        let kindIndex = Self.browserKinds.firstIndex(of: kind.rawValue) ?? 0
        let outcomeIndex = AssetCache.Outcome.allCases.firstIndex(of: outcome) ?? 0
        browserRequests[kindIndex][outcomeIndex].increment()
    }

    /// Destinations a settings rewrite removed.
    func destinationsRemoved(_ count: Int) {
        if count > 0 { removedDestinations.increment(by: Int64(count)) }
    }

    func request(route: TrackingRoute?, status: Int) {
        let routeIndex = route.flatMap { Self.routes.firstIndex(of: $0.label) } ?? Self.routes.count - 1
        requests[routeIndex][Self.statusIndex(status)].increment()
    }

    /// The (verdict, action) indexes of one event, for ``events(_:)`` and the decision feed.
    static func eventIndexes(verdict: Verdict?, action: ConsentAction) -> (verdict: Int, action: Int) {
        (verdict.map(Self.verdictIndex) ?? Self.verdicts.count - 1, Self.actionIndex(action))
    }

    /// One series' labels, in order.
    typealias Labels = [(String, String)]

    /// The labels of `consentgate_events_total` for one source, by verdict then action (the indexes of
    /// ``eventIndexes(verdict:action:)``). Every source has the same label names, in the same order, as
    /// the registry requires of one metric.
    static func eventLabels(source: String) -> [[Labels]] {
        verdicts.map { verdict in actions.map { [("source", source), ("verdict", verdict), ("action", $0)] } }
    }

    /// The labels of `consentgate_consent_mismatch_total` for one source: its categories and `other`,
    /// by direction (over, under).
    static func mismatchLabels(source: String, categories: [String]) -> [[Labels]] {
        (categories + ["other"]).map { category in
            ["over", "under"].map { [("source", source), ("category", category), ("direction", $0)] }
        }
    }

    /// The per-event counters of a source given at start (a programming error otherwise).
    func counters(source: String) -> SourceCounters {
        guard let counters = sources[source] else { preconditionFailure("no metric handles for source '\(source)'") }
        return counters
    }

    static func verdictIndex(_ verdict: Verdict) -> Int {
        switch verdict {
        case .consistent: 0
        case .mismatch: 1
        case .missingStamp: 2
        case .unknownSubject: 3
        case .storeUnavailable: 4
        case .preferenceUpdate: 5
        }
    }

    /// The index of an action in ``actions`` (`ConsentAction.allCases` order), without making the array.
    static func actionIndex(_ action: ConsentAction) -> Int {
        switch action {
        case .forward: 0
        case .drop: 1
        case .restamp: 2
        case .reject: 3
        }
    }

    func storeLookup(outcome: String, duration: Duration) {
        storeDurations[Self.storeOutcomes.firstIndex(of: outcome) ?? 2].record(duration)
    }

    func upstream(statusClass: String, duration: Duration) {
        upstreamDurations[Self.upstreamClasses.firstIndex(of: statusClass) ?? 4].record(duration)
    }

    func body(bytes: Int) { bodyBytes.record(Double(bytes)) }
    func requestStarted() { inflight.increment() }
    func requestFinished() { inflight.decrement() }
    func auditWriteFailed() { auditFailures.increment() }
    func addressEdits(_ counts: AddressEditCounts) {
        for (index, count) in [counts.filled, counts.truncated, counts.removed, counts.droppedEvents].enumerated() where count > 0 {
            addressEdits[index].increment(by: Int64(count))
        }
    }
    /// Records the outcome of a readiness check (each `/readyz`, e.g. the kubelet's probe).
    func readiness(_ isReady: Bool) { ready.set(isReady ? 1.0 : 0.0) }

    /// Brings the cache counters up to date from the resolver's statistics (done at scrape time).
    func syncCache(_ statistics: ConsentCacheStatistics) {
        exported.withLock { last in
            cacheLookups[0].increment(by: Int64(max(0, statistics.hits - last.hits)))
            cacheLookups[1].increment(by: Int64(max(0, statistics.misses - last.misses)))
            cacheLookups[2].increment(by: Int64(max(0, statistics.negativeHits - last.negativeHits)))
            cacheLookups[3].increment(by: Int64(max(0, statistics.staleServed - last.staleServed)))
            cacheEvictions.increment(by: Int64(max(0, statistics.evictions - last.evictions)))
            coalesced.increment(by: Int64(max(0, statistics.coalesced - last.coalesced)))
            last = statistics
        }
        cacheEntries.set(Double(statistics.count))
    }

    /// One delivery attempt of a spooled batch (`delivered`, `rate_limited`, `server_error`, …).
    func deliveryAttempt(_ outcome: String) { spool?.attempt(outcome) }
    /// A spooled batch moved to the dead letters.
    func deadLetter(_ reason: BatchDelivery.Reason) { spool?.deadLetter(reason) }
    /// An attempt to deliver a spooled batch late, by what became of its `sentAt`.
    func sentAtCorrection(_ outcome: SentAtCorrection.Outcome) { spool?.sentAtCorrection(outcome) }

    /// The Prometheus text exposition.
    func exposition() -> [UInt8] { registry.emitToBuffer() }

    private static func statusIndex(_ status: Int) -> Int {
        switch status {
        case 200: 0
        case 204: 1
        case 400: 2
        case 401: 3
        case 403: 4
        case 404: 5
        case 405: 6
        case 413: 7
        case 415: 8
        case 429: 9
        case 502: 10
        case 503: 11
        case 400..<500: 12
        case 500..<600: 13
        default: 14
        }
    }
}

/// One source's per-event counters (`consentgate_events_total`, `consentgate_consent_mismatch_total`
/// under its `source` label), created once at start; its ``ConsentEnforcer`` holds them.
struct SourceCounters: Sendable {
    let categories: [String]
    /// By verdict, then action.
    let events: [[Counter]]
    /// By category (the source's, then `other`), then direction (over, under).
    let mismatches: [[Counter]]

    /// Counts a request's events: one increment per (verdict, action) that occurs, not one per event,
    /// since every increment is an atomic write to a counter both event loops share.
    func events(_ counted: [(verdict: Int, action: Int)]) {
        let actions = GatewayMetrics.actions.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: GatewayMetrics.verdicts.count * actions) { tally in
            tally.initialize(repeating: 0)
            for item in counted { tally[item.verdict * actions + item.action] += 1 }
            for (cell, count) in tally.enumerated() where count > 0 {
                events[cell / actions][cell % actions].increment(by: Int64(count))
            }
        }
    }

    func mismatch(over: [String], under: [String]) {
        for category in over { mismatches[categoryIndex(category)][0].increment() }
        for category in under { mismatches[categoryIndex(category)][1].increment() }
    }

    private func categoryIndex(_ category: String) -> Int {
        categories.firstIndex(of: category) ?? categories.count
    }
}

/// `delivery.mode: spool`: the spool's size and age (gauges set at scrape time from the log's status),
/// delivery attempts by outcome, dead letters by reason and the spool's `fsync`s, created once with the
/// rest of ``GatewayMetrics``.
final class SpoolMetrics: Sendable {
    static let outcomes = ["delivered", "rate_limited", "rejected", "server_error", "unexpected_status", "timeout", "connection_failed"]

    private let bytes: Gauge
    private let batches: Gauge
    private let oldestAge: Gauge
    private let deadLetterFiles: Gauge
    private let full: Gauge
    private let attempts: [Counter]
    private let deadLetters: [Counter]
    private let sentAtCorrections: [Counter]
    private let fsyncs: Counter
    private let commits: Counter
    /// The log's counters already exported: the Prometheus counters move forward by the difference.
    private let exported = Mutex((fsyncs: 0, commits: 0))

    init(registry: PrometheusCollectorRegistry) {
        func name(_ metric: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "consentgate", metricName: metric, unitName: unit, helpText: help)
        }
        bytes = registry.makeGauge(descriptor: name("spool", unit: "bytes", "Bytes of spooled batches not yet delivered or dead-lettered."))
        batches = registry.makeGauge(descriptor: name("spool_batches", "Spooled batches not yet delivered or dead-lettered."))
        oldestAge = registry.makeGauge(
            descriptor: name("spool_oldest_batch_age", unit: "seconds", "Age of the oldest spooled batch not yet delivered; 0 when none."))
        deadLetterFiles = registry.makeGauge(descriptor: name("spool_dead_letter_files", "Dead letters waiting in the spool's dead-letters directory."))
        full = registry.makeGauge(descriptor: name("spool_full", "1 while the spool cannot take an average batch (ingress answers spool_full)."))
        let attemptsName = name("delivery_attempts", unit: "total", "Attempts to deliver a spooled batch to Segment, by outcome.")
        attempts = Self.outcomes.map { registry.makeCounter(descriptor: attemptsName, labels: [("outcome", $0)]) }
        let deadName = name("delivery_dead_letters", unit: "total", "Spooled batches moved to the dead letters, by reason.")
        deadLetters = BatchDelivery.Reason.allCases.map { registry.makeCounter(descriptor: deadName, labels: [("reason", $0.rawValue)]) }
        let sentAtName = name(
            "delivery_late_attempts", unit: "total",
            "Attempts to deliver a spooled batch a second or more after it was acknowledged, by what became of its sentAt (moved by the delay, unreadable, absent).")
        sentAtCorrections = SentAtCorrection.Outcome.allCases.map { registry.makeCounter(descriptor: sentAtName, labels: [("sent_at", $0.rawValue)]) }
        fsyncs = registry.makeCounter(
            descriptor: name("spool_fsyncs", unit: "total", "fsync/fdatasync calls the spool issued (group commits, new segments, done-marks, dead letters)."))
        commits = registry.makeCounter(
            descriptor: name("spool_commits", unit: "total", "Group commits: each made every append of one commit interval durable with one fdatasync."))
    }

    func attempt(_ outcome: String) {
        attempts[Self.outcomes.firstIndex(of: outcome) ?? Self.outcomes.count - 1].increment()
    }

    func deadLetter(_ reason: BatchDelivery.Reason) {
        deadLetters[BatchDelivery.Reason.allCases.firstIndex(of: reason) ?? 0].increment()
    }

    func sentAtCorrection(_ outcome: SentAtCorrection.Outcome) {
        sentAtCorrections[SentAtCorrection.Outcome.allCases.firstIndex(of: outcome) ?? 0].increment()
    }

    /// Brings the gauges up to date from the log (done at scrape time).
    func sync(bytes: Int64, batches: Int, oldestAgeSeconds: Double, deadLetters: Int, isFull: Bool, fsyncs: Int, commits: Int) {
        self.bytes.set(Double(bytes))
        self.batches.set(Double(batches))
        oldestAge.set(oldestAgeSeconds)
        deadLetterFiles.set(Double(deadLetters))
        full.set(isFull ? 1.0 : 0.0)
        exported.withLock { last in
            self.fsyncs.increment(by: Int64(max(0, fsyncs - last.fsyncs)))
            self.commits.increment(by: Int64(max(0, commits - last.commits)))
            last = (max(last.fsyncs, fsyncs), max(last.commits, commits))
        }
    }
}
