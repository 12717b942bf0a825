import Foundation

/// Batches of events whose fate is known in advance, for the fault ledger: in each batch two events
/// agree with their subject's stored truth, one over-grants against it, one names a subject the store
/// does not know. Every batch has subjects of its own, so each one needs the store (nothing cached).
struct LedgerPlan: Sendable {
    enum Kind: String, Sendable {
        /// The stamp equals the truth: forwarded.
        case consistent
        /// The stamp grants `Advertising`, which the truth denies: dropped with a `mismatch` record.
        case overGranted
        /// The store does not know the subject: dropped with an `unknown_subject` record.
        case unknownSubject
    }

    struct Event: Sendable {
        var messageId: String
        var kind: Kind
        var json: String
    }

    /// Every known subject's truth.
    static let truth = ["Advertising": false, "Analytics": true]
    static let overGrant = ["Advertising": true, "Analytics": true]

    let batches: [[Event]]
    /// The subjects to put in the store, each with ``truth``.
    let knownSubjects: [String]

    /// `count` batches; `name` keeps ids apart between tests.
    init(_ name: String, batches count: Int) {
        var batches: [[Event]] = []
        var known: [String] = []
        for index in 0..<count {
            let subject = "\(name)-\(index)-known"
            let stranger = "\(name)-\(index)-stranger"
            known.append(subject)
            func event(_ kind: Kind, _ number: Int, user: String, stamp: [String: Bool]) -> Event {
                let messageId = "\(name)-\(index)-\(number)-\(kind.rawValue)"
                return Event(
                    messageId: messageId, kind: kind,
                    json: TestEvents.track(userId: user, anonymousId: nil, messageId: messageId, stamp: stamp))
            }
            batches.append([
                event(.consistent, 0, user: subject, stamp: Self.truth),
                event(.overGranted, 1, user: subject, stamp: Self.overGrant),
                event(.unknownSubject, 2, user: stranger, stamp: Self.truth),
                event(.consistent, 3, user: subject, stamp: Self.truth),
            ])
        }
        self.batches = batches
        self.knownSubjects = known
    }

    /// Puts every known subject's truth through the gateway's consent API.
    func store(through harness: GatewayHarness) async throws {
        for subject in knownSubjects { try await harness.putConsent(subject, Self.truth) }
    }

    /// The batch body of `events`.
    static func body(_ events: [Event]) -> String {
        TestEvents.batch(events.map(\.json))
    }
}
