import ConsentCore
import SegmentWire
import Synchronization

/// What the live decision view shows: running totals and the last decisions, with subjects only as
/// a short HMAC prefix and never a raw id, trait or payload.
///
/// Decisions are sampled only while someone watches the view (a poll in the last minute), so the
/// hot path pays nothing for it otherwise; subjects are hashed when the view is read, not per event.
final class DecisionFeed: Sendable {
    struct Entry: Sendable, Hashable {
        var time: String
        /// The name of the request's source (`default` for the top-level settings); never its write key.
        var source: String
        var eventType: String?
        var eventName: String?
        /// The subject, kept in memory only; the view shows the first 16 hex digits of its HMAC.
        var subject: String?
        var verdict: String
        var action: String
        var over: [String]
        var under: [String]
    }

    private struct State {
        var ring: [Entry] = []
        var next = 0
        /// Indexed by verdict × action (``GatewayMetrics/verdicts``, ``GatewayMetrics/actions``).
        var totals = [Int](repeating: 0, count: GatewayMetrics.verdicts.count * GatewayMetrics.actions.count)
        var upstream: [String: Int] = [:]
    }

    /// The newest events of a request that the view shows (a request of 100 events does not push
    /// out every other request's).
    static let shownPerRequest = 20

    let capacity: Int
    private let state = Mutex(State())
    /// When the view was last read (monotonic nanoseconds), for sampling only while watched.
    private let lastWatched = Atomic<Int64>(Int64.min)
    private let origin = ContinuousClock.now

    /// Whether the view was read in the last minute.
    var isWatched: Bool {
        let last = lastWatched.load(ordering: .relaxed)
        return last != Int64.min && nanoseconds(since: origin) - last < 60_000_000_000
    }

    private func nanoseconds(since origin: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - origin
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    init(capacity: Int = 100) {
        self.capacity = capacity
    }

    /// Counts a request's decisions and keeps the newest ones.
    func record(_ entries: [Entry], counted: [(verdict: Int, action: Int)]) {
        state.withLock { state in
            for item in counted { state.totals[item.verdict * GatewayMetrics.actions.count + item.action] += 1 }
            for entry in entries.suffix(capacity) {
                if state.ring.count < capacity {
                    state.ring.append(entry)
                } else {
                    state.ring[state.next] = entry
                }
                state.next = (state.next + 1) % capacity
            }
        }
    }

    func upstream(_ statusClass: String) {
        state.withLock { $0.upstream[statusClass, default: 0] += 1 }
    }

    /// The view's JSON: `{"totals":[...],"upstream":{...},"cache":{...},"decisions":[newest first]}`, and
    /// `"spool":{...}` (an object already encoded) in `delivery.mode: spool`.
    func json(cache: ConsentCacheStatistics, name: (String) -> String, spool: [UInt8]? = nil) -> [UInt8] {
        lastWatched.store(nanoseconds(since: origin), ordering: .relaxed)
        let (totals, upstream, decisions) = state.withLock { state -> ([Int], [String: Int], [Entry]) in
            let ordered = state.ring.count < capacity
                ? Array(state.ring.reversed())
                : Array((state.ring[state.next...] + state.ring[..<state.next]).reversed())
            return (state.totals, state.upstream, ordered)
        }
        var out: [UInt8] = Array(#"{"totals":["#.utf8)
        var first = true
        for (index, count) in totals.enumerated() where count > 0 {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: #"{"verdict":"#.utf8)
            JSONString.appendQuoted(GatewayMetrics.verdicts[index / GatewayMetrics.actions.count], to: &out)
            out.append(contentsOf: #","action":"#.utf8)
            JSONString.appendQuoted(GatewayMetrics.actions[index % GatewayMetrics.actions.count], to: &out)
            out.append(contentsOf: #","count":\#(count)}"#.utf8)
        }
        out.append(contentsOf: #"],"upstream":{"#.utf8)
        for (index, key) in upstream.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.appendQuoted(key, to: &out)
            out.append(contentsOf: ":\(upstream[key] ?? 0)".utf8)
        }
        let lookups = cache.hits + cache.misses + cache.negativeHits
        let ratio = lookups == 0 ? 0 : Double(cache.hits + cache.negativeHits) / Double(lookups)
        out.append(contentsOf: #"},"cache":{"entries":\#(cache.count),"hits":\#(cache.hits),"misses":\#(cache.misses),"#.utf8)
        out.append(contentsOf: #""negative_hits":\#(cache.negativeHits),"stale_served":\#(cache.staleServed),"hit_ratio":\#(ratio)},"#.utf8)
        if let spool {
            out.append(contentsOf: #""spool":"#.utf8)
            out.append(contentsOf: spool)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: #""decisions":["#.utf8)
        for (index, entry) in decisions.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"time":"#.utf8)
            JSONString.appendQuoted(entry.time, to: &out)
            optional("source", entry.source, &out)
            optional("event_type", entry.eventType, &out)
            optional("event", entry.eventName, &out)
            optional("subject", entry.subject.map { String(name($0).prefix(16)) }, &out)
            optional("verdict", entry.verdict, &out)
            optional("action", entry.action, &out)
            list("over", entry.over, &out)
            list("under", entry.under, &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    private func optional(_ name: String, _ value: String?, _ out: inout [UInt8]) {
        out.append(contentsOf: ",\"\(name)\":".utf8)
        if let value { JSONString.appendQuoted(value, to: &out) } else { out.append(contentsOf: "null".utf8) }
    }

    private func list(_ name: String, _ values: [String], _ out: inout [UInt8]) {
        out.append(contentsOf: ",\"\(name)\":[".utf8)
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.appendQuoted(value, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}
