import Testing
import WireTestSupport

@testable import ConsentGate

/// ``BatchDelivery``, the retry machine of a spooled batch, without sockets: which answers complete,
/// retry or dead-letter a batch, the bounds and spread of its full-jitter backoff, Segment's hints in
/// every form, and the age limit.
@Suite struct BatchDeliveryTests {
    static let policy = BatchDelivery.Policy(initial: .seconds(1), maximum: .seconds(60), maxAge: .seconds(72 * 3600))
    static let accepted: Int64 = 1_700_000_000_000

    static func machine(_ policy: BatchDelivery.Policy = policy) -> BatchDelivery {
        BatchDelivery(acceptedAtMilliseconds: accepted, policy: policy)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    @Test(arguments: [200, 201, 204, 299])
    func aSuccessCompletes(status: Int) {
        var machine = Self.machine()
        var random = SplitMix64(seed: 1)
        #expect(machine.attempted(.replied(status: status, retryAfter: nil, rateLimitReset: nil), nowMilliseconds: Self.accepted, random: &random) == .complete)
    }

    @Test(arguments: [400, 401, 403, 404, 410, 413, 422, 499])
    func anotherClientErrorIsADeadLetterAtOnce(status: Int) {
        var machine = Self.machine()
        var random = SplitMix64(seed: 2)
        // Even with a Retry-After: sending the same bytes again cannot help.
        let action = machine.attempted(.replied(status: status, retryAfter: "1", rateLimitReset: nil), nowMilliseconds: Self.accepted, random: &random)
        #expect(action == .deadLetter(.rejected))
    }

    @Test(arguments: [
        BatchDelivery.Outcome.replied(status: 429, retryAfter: nil, rateLimitReset: nil),
        .replied(status: 500, retryAfter: nil, rateLimitReset: nil),
        .replied(status: 502, retryAfter: nil, rateLimitReset: nil),
        .replied(status: 503, retryAfter: nil, rateLimitReset: nil),
        .replied(status: 504, retryAfter: nil, rateLimitReset: nil),
        .replied(status: 302, retryAfter: nil, rateLimitReset: nil),
        .timedOut,
        .failed,
    ])
    func transientFailuresRetry(outcome: BatchDelivery.Outcome) {
        var machine = Self.machine()
        var random = SplitMix64(seed: 3)
        guard case .retry(let delay) = machine.attempted(outcome, nowMilliseconds: Self.accepted + 1000, random: &random) else {
            Issue.record("\(outcome) must be retried")
            return
        }
        #expect(delay >= .zero && delay <= .seconds(1), "the first backoff is at most the initial delay: \(delay)")
        #expect(machine.failures == 1)
    }

    @Test func theBackoffCeilingDoublesUpToTheMaximum() {
        let ceilings = (1...10).map { BatchDelivery.ceiling(failures: $0, policy: Self.policy) }
        #expect(ceilings == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60].map { Duration.seconds($0) })
        // Far past the point of overflow the cap still holds.
        #expect(BatchDelivery.ceiling(failures: 10_000, policy: Self.policy) == .seconds(60))
        #expect(BatchDelivery.ceiling(failures: 0, policy: Self.policy) == .seconds(1))
    }

    @Test func fullJitterSpreadsOverTheWholeRange() {
        var random = SplitMix64(seed: 4)
        for failures in [1, 3, 7, 30] {
            let ceiling = Self.seconds(BatchDelivery.ceiling(failures: failures, policy: Self.policy))
            let draws = (0..<2000).map { _ in Self.seconds(BatchDelivery.backoff(failures: failures, policy: Self.policy, random: &random)) }
            #expect(draws.allSatisfy { $0 >= 0 && $0 <= ceiling }, "every draw within [0, \(ceiling)]")
            // Uniform on [0, ceiling]: the mean near half, draws in the lowest and highest tenth.
            let mean = draws.reduce(0, +) / Double(draws.count)
            #expect(abs(mean - ceiling / 2) < ceiling * 0.05, "mean \(mean) for ceiling \(ceiling)")
            #expect(draws.contains { $0 < ceiling * 0.1 } && draws.contains { $0 > ceiling * 0.9 })
        }
    }

    @Test func successiveFailuresGrowTheBackoff() {
        var machine = Self.machine()
        var random = SplitMix64(seed: 5)
        var delays: [Duration] = []
        for attempt in 1...8 {
            guard case .retry(let delay) = machine.attempted(.failed, nowMilliseconds: Self.accepted + Int64(attempt) * 1000, random: &random)
            else { Issue.record("attempt \(attempt) must retry"); return }
            delays.append(delay)
            #expect(delay <= BatchDelivery.ceiling(failures: attempt, policy: Self.policy))
        }
        #expect(machine.failures == 8)
    }

    @Test func retryAfterInSecondsIsAFloor() {
        var machine = Self.machine()
        var random = SplitMix64(seed: 6)
        let action = machine.attempted(.replied(status: 429, retryAfter: "30", rateLimitReset: nil), nowMilliseconds: Self.accepted, random: &random)
        guard case .retry(let delay) = action else { Issue.record("429 must retry"); return }
        #expect(delay >= .seconds(30) && delay <= .seconds(30), "the first backoff (≤ 1 s) is below Segment's 30 s: \(delay)")
    }

    @Test func retryAfterAsAnHTTPDate() throws {
        // 2023-11-14T22:13:20Z is 1_700_000_000 s after the epoch.
        #expect(HTTPDate.millisecondsSinceEpoch("Tue, 14 Nov 2023 22:13:20 GMT") == 1_700_000_000_000)
        #expect(HTTPDate.millisecondsSinceEpoch("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(HTTPDate.millisecondsSinceEpoch("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777_000)
        #expect(HTTPDate.millisecondsSinceEpoch("Tue, 29 Feb 2028 12:00:00 GMT") == 1_835_438_400_000)
        for bad in ["", "soon", "Tue, 14 Nov 2023 22:13:20 PST", "Tue, 14 Foo 2023 22:13:20 GMT", "Tue, 14 Nov 2023 25:13:20 GMT", "14 Nov 2023 22:13:20 GMT"] {
            #expect(HTTPDate.millisecondsSinceEpoch(bad) == nil, "\(bad)")
        }
        var machine = Self.machine()
        var random = SplitMix64(seed: 7)
        // Segment asks for 45 s from now.
        let now: Int64 = 1_700_000_000_000 - 45_000
        let action = machine.attempted(
            .replied(status: 503, retryAfter: "Tue, 14 Nov 2023 22:13:20 GMT", rateLimitReset: nil), nowMilliseconds: now, random: &random)
        #expect(action == .retry(after: .seconds(45)))
        // A date already past asks for nothing: the backoff alone applies.
        guard case .retry(let delay) = machine.attempted(
            .replied(status: 503, retryAfter: "Thu, 01 Jan 1970 00:00:00 GMT", rateLimitReset: nil), nowMilliseconds: now, random: &random)
        else { Issue.record("must retry"); return }
        #expect(delay <= .seconds(2))
    }

    @Test func theRateLimitResetHeader() {
        // Seconds to wait, as Segment documents it.
        #expect(BatchDelivery.hint(retryAfter: nil, rateLimitReset: "12", nowMilliseconds: Self.accepted) == .seconds(12))
        #expect(BatchDelivery.hint(retryAfter: nil, rateLimitReset: "1.5", nowMilliseconds: Self.accepted) == .milliseconds(1500))
        // A Unix time instead of a delay.
        #expect(BatchDelivery.hint(retryAfter: nil, rateLimitReset: "1700000020", nowMilliseconds: Self.accepted) == .seconds(20))
        // Retry-After wins when both are there; unreadable values are no hint.
        #expect(BatchDelivery.hint(retryAfter: "3", rateLimitReset: "12", nowMilliseconds: Self.accepted) == .seconds(3))
        #expect(BatchDelivery.hint(retryAfter: "later", rateLimitReset: "soon", nowMilliseconds: Self.accepted) == nil)
        #expect(BatchDelivery.hint(retryAfter: "-5", rateLimitReset: nil, nowMilliseconds: Self.accepted) == nil)
        var machine = Self.machine()
        var random = SplitMix64(seed: 8)
        #expect(
            machine.attempted(.replied(status: 429, retryAfter: nil, rateLimitReset: "20"), nowMilliseconds: Self.accepted, random: &random)
                == .retry(after: .seconds(20)))
    }

    @Test func aHintIsCappedSoABogusHeaderCannotParkABatchForDays() {
        var machine = Self.machine()
        var random = SplitMix64(seed: 9)
        let action = machine.attempted(
            .replied(status: 429, retryAfter: "864000", rateLimitReset: nil), nowMilliseconds: Self.accepted, random: &random)
        #expect(action == .retry(after: BatchDelivery.Policy.maximumHint))
    }

    @Test func pastTheMaximumAgeAFailureIsADeadLetter() {
        let policy = BatchDelivery.Policy(initial: .seconds(1), maximum: .seconds(60), maxAge: .seconds(3600))
        var random = SplitMix64(seed: 10)
        var young = Self.machine(policy)
        guard case .retry = young.attempted(.failed, nowMilliseconds: Self.accepted + 3_599_999, random: &random) else {
            Issue.record("a batch younger than the maximum age retries")
            return
        }
        var old = Self.machine(policy)
        #expect(old.attempted(.failed, nowMilliseconds: Self.accepted + 3_600_000, random: &random) == .deadLetter(.expired))
        var rateLimited = Self.machine(policy)
        #expect(
            rateLimited.attempted(.replied(status: 429, retryAfter: "1", rateLimitReset: nil), nowMilliseconds: Self.accepted + 7_200_000, random: &random)
                == .deadLetter(.expired))
        // An old batch that finally goes through is delivered, not dead-lettered.
        var late = Self.machine(policy)
        #expect(late.attempted(.replied(status: 200, retryAfter: nil, rateLimitReset: nil), nowMilliseconds: Self.accepted + 7_200_000, random: &random) == .complete)
    }

    @Test func theConfigurationBecomesThePolicy() {
        var delivery = GatewayConfiguration.Delivery()
        delivery.retry.initialSeconds = 0.25
        delivery.retry.maxSeconds = 5
        delivery.maxAgeHours = 0.5
        #expect(delivery.retryPolicy == BatchDelivery.Policy(initial: .milliseconds(250), maximum: .seconds(5), maxAge: .seconds(1800)))
    }
}
