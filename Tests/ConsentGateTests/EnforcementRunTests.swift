import ConsentCore
import Logging
import SegmentWire
import Synchronization
import Testing

@testable import ConsentGate

/// Enforcement driven step by step, without sockets: the run stops exactly where the store must be
/// asked, and a request the cache answers finishes without a step that waits.
@Suite struct EnforcementRunTests {
    /// A store in memory that counts its lookups.
    final class CountingStore: ConsentStore {
        let kind = "memory"
        let records: [String: ConsentRecord]
        let lookups = Atomic<Int>(0)

        init(_ records: [String: [String: Bool]]) {
            self.records = records.reduce(into: [:]) { result, entry in
                result[entry.key] = ConsentRecord(
                    subject: entry.key, preferences: entry.value.map { CategoryPreference(category: $0.key, granted: $0.value) },
                    version: 1, updatedAt: .now)
            }
        }

        func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
            lookups.add(1, ordering: .relaxed)
            return records[subject]
        }
        func ping() async throws(ConsentStoreError) {}
        func close() async {}
    }

    let store = CountingStore(["alice": ["Analytics": true, "Advertising": false], "bob": ["Analytics": true, "Advertising": true]])

    func enforcer() -> ConsentEnforcer {
        let resolver = ConsentResolver(
            store: store, configuration: .init(capacity: 100), clock: { ContinuousClock.now }, rng: SystemRandomNumberGenerator())
        return ConsentEnforcer(
            resolver: resolver, policy: ConsentPolicy(), maxStaleGrant: .seconds(30), audit: nil, hasher: SubjectHasher(key: "k"),
            metrics: GatewayMetrics(categories: ["Analytics", "Advertising"]), feed: DecisionFeed(), logger: Logger(label: "test"))
    }

    func scanned(_ events: [String]) throws -> (ScannedRequest, [EventSubject?], RequestBytes) {
        let body = RequestBytes.inflated(Array(TestEvents.batch(events, extra: "").utf8))
        let request = try body.withBytes { bytes in try BatchScanner().scan(bytes, route: .batch) }
        let subjects = body.withBytes { EventSubject.extract(from: request, body: $0) }
        return (request, subjects, body)
    }

    /// Runs to the end, resolving every step through the resolver; returns the ids of each step.
    func drive(_ enforcer: ConsentEnforcer, _ run: inout EnforcementRun) async -> [[String?]] {
        var asked: [[String?]] = []
        var answers: [SubjectPair: LookupAnswer]?
        while case .resolve(let pairs) = enforcer.advance(&run, resolved: answers) {
            asked.append(pairs.map { $0.userId ?? $0.anonymousId })
            let outcomes = await enforcer.resolver.resolve(pairs, within: .seconds(5))
            answers = Dictionary(uniqueKeysWithValues: zip(pairs, outcomes))
        }
        return asked
    }

    @Test func stopsOnceForEverySubjectTheCacheDoesNotKnowThenFinishesFromTheCache() async throws {
        let enforcer = enforcer()
        let events = [
            TestEvents.track(userId: "alice", stamp: ["Analytics": true, "Advertising": false]),
            TestEvents.track(userId: "bob", stamp: ["Analytics": true, "Advertising": false]),  // under-granted
            TestEvents.track(userId: "alice", stamp: ["Analytics": true, "Advertising": true]),  // over-granted
        ]
        let (request, subjects, body) = try scanned(events)
        var cold = enforcer.begin(request, subjects: subjects, body: body, gpc: false, requestId: nil)
        // One step names every distinct subject the cache could not answer, in order of first use; the
        // store is asked once per subject.
        #expect(await drive(enforcer, &cold) == [["alice", "bob"]])
        let first = enforcer.finish(cold)
        #expect(store.lookups.load(ordering: .relaxed) == 2)

        var warm = enforcer.begin(request, subjects: subjects, body: body, gpc: false, requestId: nil)
        #expect(enforcer.advance(&warm, resolved: nil) == .finished, "a cached request finishes in one step")
        let second = enforcer.finish(warm)
        #expect(store.lookups.load(ordering: .relaxed) == 2)
        #expect(second.edits == first.edits)
        #expect(first.edits.first == .keep && first.edits.last == .drop)
        #expect(!first.rejected && !second.rejected)
    }

    @Test func anInvalidEventIsDroppedWithoutAStep() async throws {
        let enforcer = enforcer()
        let events = [TestEvents.track(userId: nil, anonymousId: nil, stamp: ["Analytics": true])]
        let (request, subjects, body) = try scanned(events)
        var run = enforcer.begin(request, subjects: subjects, body: body, gpc: false, requestId: nil)
        #expect(enforcer.advance(&run, resolved: nil) == .finished)
        #expect(enforcer.finish(run).edits == [.drop])
        #expect(store.lookups.load(ordering: .relaxed) == 0)
    }

    /// A preference update reads its subject's truth afresh: the cached record is forgotten first, and
    /// an update that grants what the store denies is a mismatch, one that grants less passes.
    @Test func aPreferenceUpdateIsCheckedAgainstTheStoreAfresh() async throws {
        let enforcer = enforcer()
        let warm = try scanned([TestEvents.track(userId: "alice", stamp: ["Analytics": true, "Advertising": false])])
        var first = enforcer.begin(warm.0, subjects: warm.1, body: warm.2, gpc: false, requestId: nil)
        _ = await drive(enforcer, &first)
        #expect(store.lookups.load(ordering: .relaxed) == 1)

        let update = "Segment Consent Preference Updated"
        let events = [
            TestEvents.track(userId: "alice", event: update, stamp: ["Analytics": true, "Advertising": true]),  // over-grants
            TestEvents.track(userId: "alice", event: update, stamp: ["Analytics": false, "Advertising": false]),  // a withdrawal
        ]
        let (request, subjects, body) = try scanned(events)
        var run = enforcer.begin(request, subjects: subjects, body: body, gpc: false, requestId: nil)
        #expect(await drive(enforcer, &run) == [["alice"]], "alice was cached, and is read from the store again")
        #expect(store.lookups.load(ordering: .relaxed) == 2)
        #expect(enforcer.finish(run).edits == [.drop, .keep])
    }

    /// A batch-level stamp that over-grants is caught even when each event's own stamp is right.
    @Test func theBatchStampIsCheckedBesideEachEventsOwn() async throws {
        let enforcer = enforcer()
        let own = TestEvents.track(userId: "alice", stamp: ["Analytics": true, "Advertising": false])
        let batch = #"{"context":{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":true}}},"batch":[\#(own)]}"#
        let body = RequestBytes.inflated(Array(batch.utf8))
        let request = try body.withBytes { bytes in try BatchScanner().scan(bytes, route: .batch) }
        let subjects = body.withBytes { EventSubject.extract(from: request, body: $0) }
        for _ in 0..<2 {  // cold, then from the cache by mask
            var run = enforcer.begin(request, subjects: subjects, body: body, gpc: false, requestId: nil)
            _ = await drive(enforcer, &run)
            #expect(enforcer.finish(run).edits == [.drop])
        }
    }
}
