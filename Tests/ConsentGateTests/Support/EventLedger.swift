import Foundation
import NIOConcurrencyHelpers

/// Accounts for every event a test sends through a gateway while its dependencies break.
///
/// It posts ``LedgerPlan`` batches, remembers each attempt and the answer it got, re-sends (as an SDK
/// would) the batches the client was told to retry, and then reconciles four sources: the events sent
/// (by `messageId`), the answers, what the sink received, and the audit log. Every event must be
/// forwarded, dropped with an audit record that gives a consent reason, or in a request the client
/// was told to retry (429 or 5xx with `Retry-After`); no event reaches the sink twice, and no request
/// refused because consent was unverifiable sends anything upstream.
final class EventLedger: Sendable {
    struct Attempt: Sendable {
        var batch: Int
        var requestId: String?
        var status: Int
        var code: String?
        var retryAfter: String?
        var messageIds: [String]
        /// How long the answer took.
        var took: Duration

        /// The client was told to retry (429 or 5xx): the SDK sends the batch again.
        var toldToRetry: Bool { status == 429 || status >= 500 }
        /// Refused before anything went upstream: consent could not be verified.
        var unverifiable: Bool { code == "consent_unverifiable" }
    }

    private struct State: Sendable {
        var events: [String: LedgerPlan.Kind] = [:]
        var batches: [[LedgerPlan.Event]] = []
        var attempts: [Attempt] = []
    }

    private let state = NIOLockedValueBox(State())

    var attempts: [Attempt] { state.withLockedValue { $0.attempts } }

    /// The answers' codes, counted (`"200"` for a success), to show which faults a run met.
    var codes: [String: Int] {
        attempts.reduce(into: [:]) { counts, attempt in counts[attempt.status == 200 ? "200" : attempt.code ?? "\(attempt.status)", default: 0] += 1 }
    }

    /// Posts `batch` once and records the answer.
    @discardableResult
    func send(_ batch: [LedgerPlan.Event], to harness: GatewayHarness) async throws -> Attempt {
        let index = state.withLockedValue { state in
            for event in batch { state.events[event.messageId] = event.kind }
            state.batches.append(batch)
            return state.batches.count - 1
        }
        return try await post(index, batch, to: harness)
    }

    private func post(_ index: Int, _ batch: [LedgerPlan.Event], to harness: GatewayHarness) async throws -> Attempt {
        let started = ContinuousClock.now
        let reply = try await harness.post("/v1/batch", json: LedgerPlan.body(batch))
        let attempt = Attempt(
            batch: index, requestId: reply.headers.first(name: "X-Request-Id"), status: reply.status, code: reply.code,
            retryAfter: reply.headers.first(name: "Retry-After"), messageIds: batch.map(\.messageId), took: ContinuousClock.now - started)
        state.withLockedValue { $0.attempts.append(attempt) }
        return attempt
    }

    /// The batches whose latest attempt was told to retry.
    var pending: [Int] {
        state.withLockedValue { state in
            var latest: [Int: Attempt] = [:]
            for attempt in state.attempts { latest[attempt.batch] = attempt }
            return latest.values.filter(\.toldToRetry).map(\.batch).sorted()
        }
    }

    /// Re-sends every batch told to retry, as an SDK does, until none is left or `timeout` has passed
    /// (then the reconciliation reports the batches still pending).
    func retryPending(to harness: GatewayHarness, within timeout: Duration = .seconds(30), pause: Duration = .milliseconds(100)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let pending = self.pending
            if pending.isEmpty { return }
            for index in pending {
                let batch = state.withLockedValue { $0.batches[index] }
                try await post(index, batch, to: harness)
            }
            try await Task.sleep(for: pause)
        }
    }

    /// Everything that does not add up, one line each (empty when the ledger balances).
    ///
    /// - Parameters:
    ///   - received: what the sink received, in any order.
    ///   - audit: the gateway's audit records.
    ///   - settled: the fault has cleared and pending batches were retried: every batch's latest
    ///     attempt must then have succeeded, so every consistent event arrived exactly once.
    func reconcile(received: [SegmentSink.Received], audit: [[String: Any]], settled: Bool) -> [String] {
        let (events, attempts) = state.withLockedValue { ($0.events, $0.attempts) }
        var problems: [String] = []

        // Every answer is a success or tells the client to retry, with a delay.
        for attempt in attempts where attempt.status != 200 {
            if !attempt.toldToRetry {
                problems.append("batch \(attempt.batch): answered \(attempt.status) \(attempt.code ?? ""), neither success nor retry")
            } else if attempt.retryAfter == nil {
                problems.append("batch \(attempt.batch): answered \(attempt.status) without Retry-After")
            }
        }

        var copies: [String: (all: Int, accepted: Int)] = [:]
        for request in received {
            for messageId in request.messageIds {
                copies[messageId, default: (0, 0)].all += 1
                if request.accepted { copies[messageId, default: (0, 0)].accepted += 1 }
                if events[messageId] == nil { problems.append("\(messageId): reached the sink but was never sent") }
            }
        }

        var records: [String: [[String: Any]]] = [:]
        for record in audit {
            guard let messageId = record["message_id"] as? String, events[messageId] != nil else { continue }
            records[messageId, default: []].append(record)
        }
        func recordsOf(_ messageId: String, in attempt: Attempt) -> [[String: Any]] {
            (records[messageId] ?? []).filter { $0["request_id"] as? String == attempt.requestId }
        }

        for (messageId, kind) in events.sorted(by: { $0.key < $1.key }) {
            let carrying = attempts.filter { $0.messageIds.contains(messageId) }
            let succeeded = carrying.filter { $0.status == 200 }.count
            let (all, accepted) = copies[messageId] ?? (0, 0)
            // Attempts that sent a copy upstream for sure, and those that may have (the connection broke).
            let surelySent = carrying.filter { $0.status == 200 || ["rate_limited", "upstream_error", "upstream_timeout"].contains($0.code) }.count
            let maybeSent = carrying.filter { $0.code == "upstream_unreachable" }.count

            for record in records[messageId] ?? [] {
                let requestId = record["request_id"] as? String
                guard let attempt = attempts.first(where: { $0.requestId != nil && $0.requestId == requestId }) else {
                    problems.append("\(messageId): an audit record with an unknown request id \(requestId ?? "nil")")
                    continue
                }
                // Fail closed: an event that could not be verified takes its whole request down with it.
                if record["verdict"] as? String == "store_unavailable" && !attempt.unverifiable {
                    problems.append("\(messageId): unverified, yet its request was answered \(attempt.status) \(attempt.code ?? "")")
                }
            }

            switch kind {
            case .consistent:
                if accepted > 1 { problems.append("\(messageId): forwarded \(accepted) times") }
                if accepted != succeeded {
                    problems.append("\(messageId): \(succeeded) successful answers but \(accepted) copies taken by the sink")
                }
                if all < surelySent || all > surelySent + maybeSent {
                    problems.append(
                        "\(messageId): \(all) copies at the sink for \(surelySent) forwarded attempts (+\(maybeSent) broken): "
                            + "an unverified request sent something upstream, or a forwarded one did not")
                }
                for record in records[messageId] ?? [] where !(record["verdict"] as? String == "store_unavailable" && record["action"] as? String == "reject") {
                    problems.append("\(messageId): a consistent event audited as \(record["verdict"] ?? "?")/\(record["action"] ?? "?")")
                }
            case .overGranted, .unknownSubject:
                if all > 0 { problems.append("\(messageId): a \(kind) event reached the sink \(all) times") }
                let reason = kind == .overGranted ? "mismatch" : "unknown_subject"
                for attempt in carrying where !attempt.unverifiable {
                    // Decided and dropped, whatever happened upstream to the rest of the batch.
                    let drops = recordsOf(messageId, in: attempt).filter {
                        $0["verdict"] as? String == reason && $0["action"] as? String == "drop"
                            && (kind == .unknownSubject || ($0["over"] as? [String]) == ["Advertising"])
                    }
                    if drops.count != 1 {
                        problems.append("\(messageId): \(drops.count) '\(reason)' drop records for request \(attempt.requestId ?? "nil") (want 1)")
                    }
                }
            }

            // Refused for unverifiable consent: each such request says why in the audit log.
            for attempt in carrying where attempt.unverifiable && attempt.messageIds.first == messageId {
                let unavailable = attempt.messageIds.flatMap { recordsOf($0, in: attempt) }.filter {
                    $0["verdict"] as? String == "store_unavailable" && $0["action"] as? String == "reject"
                }
                if unavailable.isEmpty { problems.append("batch \(attempt.batch): refused as unverifiable without a store_unavailable record") }
            }

            guard let last = carrying.last else {
                problems.append("\(messageId): never sent")
                continue
            }
            if settled && last.status != 200 {
                problems.append("\(messageId): still told to retry (\(last.status) \(last.code ?? "")) after the fault cleared")
            }
            if settled && kind == .consistent && accepted != 1 {
                problems.append("\(messageId): delivered \(accepted) times, not exactly once")
            }
        }
        return problems
    }
}
