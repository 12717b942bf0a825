import ConsentCore
import FoundationEssentials
import SegmentWire
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, fast, deterministic generator (SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The data of the benchmarks, shaped like the load benchmark's (Benchmarks/load/gen.py): subjects with
/// UUID-shaped 36-character ids, a few distinct consent choices, events of ~750 bytes.
public enum Fixture {
    /// The distinct consent choices subjects have (as consent banners produce).
    public static let patterns: [[CategoryPreference]] = [
        [("Advertising", true), ("Analytics", true), ("DataSharing", true), ("Functional", true)],
        [("Advertising", false), ("Analytics", true), ("DataSharing", false), ("Functional", true)],
        [("Advertising", false), ("Analytics", false), ("DataSharing", false), ("Functional", true)],
        [("Advertising", true), ("Analytics", true), ("DataSharing", false), ("Functional", true)],
        [("Advertising", false), ("Analytics", true), ("DataSharing", false), ("Functional", false)],
    ].map { $0.map { CategoryPreference(category: $0.0, granted: $0.1) } }

    /// Subject `i`'s id: the same function as gen.py's `subject(i)`.
    public static func subject(_ i: Int) -> String {
        let x = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ 0x632B_E59B_D9B4_E019
        let y = UInt64(i) &* 0xC2B2_AE3D_27D4_EB4F &+ 0x1656_67B1_9E37_79F9
        let h = Array(hex(x, 16) + hex(y, 16))
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-4" + String(h[13..<16]) + "-8" + String(h[17..<20]) + "-"
            + String(h[20..<32])
    }

    /// Subject `i`'s true consent: gen.py's `truth(i)`.
    public static func truth(_ i: Int) -> [CategoryPreference] {
        patterns[(i * 7 + i / 13) % patterns.count]
    }

    static func hex(_ value: UInt64, _ digits: Int) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }

    static func uuid(_ rng: inout SplitMix64) -> String {
        let h = Array(hex(rng.next(), 16) + hex(rng.next(), 16))
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-4" + String(h[13..<16]) + "-a" + String(h[17..<20]) + "-"
            + String(h[20..<32])
    }

    static let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    ]
    static let pages = [
        ("/", "Acme - Home"), ("/pricing", "Pricing - Acme"), ("/docs/getting-started", "Getting started - Acme Docs"),
        ("/blog/2026/consent-by-design", "Consent by design - Acme Blog"), ("/checkout/cart", "Your cart - Acme"),
    ]
    static let eventNames = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Signed Up", "Video Played"]

    static func stamp(_ preferences: [CategoryPreference]) -> String {
        "{" + preferences.map { "\"\($0.category)\":\($0.granted)" }.joined(separator: ",") + "}"
    }

    /// One event of subject `i` (track, identify or page by `n`), stamped with the subject's truth.
    static func event(_ rng: inout SplitMix64, subject i: Int, n: Int) -> String {
        let (path, title) = pages[Int(rng.next() % UInt64(pages.count))]
        let agent = agents[Int(rng.next() % UInt64(agents.count))]
        let kind = ["track", "track", "track", "track", "track", "track", "identify", "identify", "page", "page"][n % 10]
        let context =
            "{\"library\":{\"name\":\"analytics.js\",\"version\":\"1.74.0\"},\"ip\":\"203.0.113.\(1 + rng.next() % 254)\","
            + "\"locale\":\"en-US\",\"userAgent\":\"\(agent)\",\"page\":{\"path\":\"\(path)\",\"title\":\"\(title)\","
            + "\"url\":\"https://acme.example\(path)\"},\"consent\":{\"categoryPreferences\":\(stamp(truth(i)))}}"
        var e =
            "{\"type\":\"\(kind)\",\"messageId\":\"\(uuid(&rng))\",\"timestamp\":\"2026-11-29T10:\(String(format2: (n / 60) % 60)):"
            + "\(String(format2: n % 60)).\(rng.next() % 1000)Z\",\"userId\":\"\(subject(i))\",\"anonymousId\":\"\(uuid(&rng))\","
            + "\"context\":\(context)"
        switch kind {
        case "track":
            e += ",\"event\":\"\(eventNames[Int(rng.next() % 6)])\",\"properties\":{\"sku\":\"sku-\(rng.next() % 1000)\","
                + "\"price\":\(5 + rng.next() % 495),\"currency\":\"USD\",\"quantity\":\(1 + rng.next() % 3)}"
        case "identify":
            e += ",\"traits\":{\"plan\":\"pro\",\"createdAt\":\"2025-03-14T09:26:53Z\",\"country\":\"DE\"}"
        default:
            e += ",\"name\":\"\(title)\",\"properties\":{\"path\":\"\(path)\",\"title\":\"\(title)\"}"
        }
        return e + "}"
    }

    /// A batch body of one event per subject index, as the SDKs send it (uncompressed).
    public static func batch(subjects: [Int], seed: UInt64 = 20_261_129) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        let events = subjects.enumerated().map { event(&rng, subject: $1, n: $0) }
        let body = "{\"batch\":[" + events.joined(separator: ",")
            + "],\"sentAt\":\"2026-11-29T10:00:00.000Z\",\"writeKey\":\"bench-write-key\"}"
        return Array(body.utf8)
    }

    /// The benchmarks' batch: 100 events of subjects 0..<100.
    public static let standardBatch: [UInt8] = batch(subjects: Array(0..<100))
}

extension String {
    init(format2 value: Int) { self = value < 10 ? "0\(value)" : "\(value)" }
}

/// A store of record in memory that knows every subject of ``Fixture`` by a hash of its id (so it
/// holds nothing per subject) and counts its lookups.
public final class SyntheticStore: ConsentStore {
    public let kind = "synthetic"
    private let count = Atomic<Int>(0)
    private static let updatedAt = Date(timeIntervalSince1970: 1_780_000_000)

    public init() {}

    /// Lookups answered so far.
    public var lookups: Int { count.load(ordering: .relaxed) }

    public func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        count.add(1, ordering: .relaxed)
        return Self.record(subject)
    }

    public static func record(_ subject: String) -> ConsentRecord {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in subject.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return ConsentRecord(
            subject: subject, preferences: Fixture.patterns[Int(hash % UInt64(Fixture.patterns.count))], version: 1,
            updatedAt: updatedAt)
    }

    public func ping() async throws(ConsentStoreError) {}
    public func close() async {}
}

/// A store of record in memory that answers each of ``Fixture``'s subjects with its true consent.
public final class FixtureStore: ConsentStore {
    public let kind = "fixture"
    private let records: [String: ConsentRecord]

    public init(subjects: Range<Int>) {
        let updatedAt = Date(timeIntervalSince1970: 1_780_000_000)
        var records: [String: ConsentRecord] = [:]
        records.reserveCapacity(subjects.count)
        for i in subjects {
            let id = Fixture.subject(i)
            records[id] = ConsentRecord(subject: id, preferences: Fixture.truth(i), version: 1, updatedAt: updatedAt)
        }
        self.records = records
    }

    public func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? { records[subject] }
    public func ping() async throws(ConsentStoreError) {}
    public func close() async {}
}

/// Ranks 1...n drawn with P(k) ∝ k^-s, by inverting the cumulative distribution.
public struct ZipfSampler: Sendable {
    private let cdf: [Double]

    public init(n: Int, s: Double) {
        var cdf: [Double] = []
        cdf.reserveCapacity(n)
        var total = 0.0
        for k in 1...n {
            total += pow(Double(k), -s)
            cdf.append(total)
        }
        self.cdf = cdf.map { $0 / total }
    }

    /// A 0-based rank.
    public func draw(_ rng: inout some RandomNumberGenerator) -> Int {
        let u = Double.random(in: 0..<1, using: &rng)
        var low = 0
        var high = cdf.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cdf[mid] < u { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// Resolves and decides every event of `scanned` (`ids` are its userId/anonymousId pairs) as the
/// enforcer does: the cache answers every subject at once (one lock), the store only for the rest.
/// Returns how many events would be forwarded.
public func decideEvents(
    _ ids: [(String?, String?)], scanned: ScannedRequest, resolver: ConsentResolver, policy: ConsentPolicy
) async -> Int {
    let cached = resolver.cachedOutcomes(ids.map { Optional(($0.0, $0.1)) })
    var forwarded = 0
    for (index, (userId, anonymousId)) in ids.enumerated() {
        let stamp = scanned.effectiveStamp(of: scanned.events[index]).map { scanned.entries(of: $0) }
        let lookup: LookupOutcome
        if let answer = cached[index] {
            lookup = answer.outcome
        } else {
            lookup = await resolver.resolve(userId: userId, anonymousId: anonymousId).outcome
        }
        let decision = VerdictEngine.decide(
            isPreferenceUpdate: false, stamp: stamp, lookup: lookup, gpc: false, policy: policy, maxStaleGrant: .seconds(30))
        if decision.effective == .forward { forwarded += 1 }
    }
    return forwarded
}

/// The enforcer's fast path for a batch: each event's stamp as a mask over the cache's category bits,
/// its ids read in place from `body`, answered by ``ConsentResolver/cachedTruths(_:in:)`` under one
/// lock, consistent stamps decided by mask. Returns how many events would be forwarded and how many
/// the cache could not answer that way (those take ``decideEvents(_:scanned:resolver:policy:)``).
public func decideEventsByMask(
    scanned: ScannedRequest, body: UnsafeRawBufferPointer, resolver: ConsentResolver, policy: ConsentPolicy
) -> (forwarded: Int, unanswered: Int) {
    guard var stamps = StampGrants(scanned, resolver: resolver) else { return (0, scanned.events.count) }
    let lookups: [SubjectBytes?] = scanned.events.map { event in
        guard let stamp = scanned.effectiveStamp(of: event), let grants = stamps.grants(of: stamp) else { return nil }
        return SubjectBytes(
            userId: event.userId.flatMap(JSONString.verbatimRange), anonymousId: event.anonymousId.flatMap(JSONString.verbatimRange),
            stampGrants: grants)
    }
    var forwarded = 0
    var unanswered = 0
    for truth in resolver.cachedTruths(lookups, in: body) {
        guard case .record(let grants, let version, _) = truth,
            let decision = VerdictEngine.decide(stampGrants: grants, truthGrants: grants, version: version, gpc: false, policy: policy)
        else {
            unanswered += 1
            continue
        }
        if decision.effective == .forward { forwarded += 1 }
    }
    return (forwarded, unanswered)
}

extension Fixture {
    /// A resolver over the fixture's 100 subjects with a cache large and long-lived enough to stay warm.
    public static func resolver() -> ConsentResolver {
        ConsentResolver(
            store: FixtureStore(subjects: 0..<100),
            configuration: ConsentCacheConfiguration(capacity: 1_000_000, ttl: .seconds(3600)),
            clock: { ContinuousClock.now },
            rng: SplitMix64(seed: 1)
        )
    }
}
