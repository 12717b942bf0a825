import ConsentCore
import FoundationEssentials
import SegmentWire
import Synchronization
import WireTestSupport

/// The shared seeded generator, with the seed these tests have always used by default.
typealias SeededRNG = SplitMix64

extension SplitMix64 {
    init() { self.init(seed: 0x5EED) }
}

/// A record with the given grants, e.g. `record("u1", ["Analytics": true, "Advertising": false])`.
func record(_ subject: String, _ grants: KeyValuePairs<String, Bool>, version: Int64 = 1) -> ConsentRecord {
    ConsentRecord(
        subject: subject,
        preferences: grants.map { CategoryPreference(category: $0.key, granted: $0.value) },
        version: version,
        updatedAt: Date(timeIntervalSince1970: 1_700_000_000)
    )
}

/// Stamp entries in the given order.
func stamp(_ grants: KeyValuePairs<String, Bool>) -> [CategoryPreference] {
    grants.map { CategoryPreference(category: $0.key, granted: $0.value) }
}

/// Opens when released; every `wait()` before that suspends.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// An in-memory store that counts lookups, can fail per subject or entirely, and can hold lookups
/// at a gate until it opens.
final class FakeStore: ConsentStore {
    struct State {
        var records: [String: ConsentRecord] = [:]
        var failing: Set<String> = []
        var failAll = false
        var lookups: [String: Int] = [:]
        var gate: Gate?
        /// How long every lookup takes.
        var latency: Duration = .zero
        var inFlight = 0
        /// The most lookups that were in flight at once.
        var maxInFlight = 0
    }

    let kind = "fake"
    let state: Mutex<State>
    let maxConcurrentLookups: Int

    init(_ records: [ConsentRecord] = [], maxConcurrentLookups: Int = 8) {
        var state = State()
        for record in records { state.records[record.subject] = record }
        self.state = Mutex(state)
        self.maxConcurrentLookups = maxConcurrentLookups
    }

    func setLatency(_ latency: Duration) { state.withLock { $0.latency = latency } }

    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    var totalLookups: Int { state.withLock { $0.lookups.values.reduce(0, +) } }

    func lookups(of subject: String) -> Int { state.withLock { $0.lookups[subject, default: 0] } }

    func set(_ record: ConsentRecord) { state.withLock { $0.records[record.subject] = record } }

    func setFailing(_ failAll: Bool) { state.withLock { $0.failAll = failAll } }

    func setFailing(subject: String) { state.withLock { _ = $0.failing.insert(subject) } }

    func hold(at gate: Gate?) { state.withLock { $0.gate = gate } }

    func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        let (gate, latency) = state.withLock { state in
            state.lookups[subject, default: 0] += 1
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return (state.gate, state.latency)
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        if let gate { await gate.wait() }
        if latency > .zero { try? await Task.sleep(for: latency) }
        let (fail, record) = state.withLock { ($0.failAll || $0.failing.contains(subject), $0.records[subject]) }
        if fail { throw ConsentStoreError(.unavailable, "the fake store is failing") }
        return record
    }

    func ping() async throws(ConsentStoreError) {}

    func close() async {}
}

/// A clock that moves only when told to.
final class FakeClock: Sendable {
    private let base = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    func advance(by duration: Duration) { offset.withLock { $0 += duration } }

    var now: ContinuousClock.Instant { base + offset.withLock { $0 } }

    var closure: ConsentResolver.Clock { { self.now } }
}

/// Polls a condition until it holds or about five seconds pass.
func eventually(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<5_000 {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}
