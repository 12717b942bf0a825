import SegmentWire

/// What enforcement decided for a request.
struct Enforcement: Sendable {
    /// One edit per event, in order.
    var edits: [EventEdit]
    /// The whole request must be refused with 503 (consent unverifiable and `on_store_unavailable: reject`).
    var rejected: Bool
}

/// Decides, per event, whether it goes upstream as is, corrected, or not at all.
final class ConsentEnforcer: Sendable {
    init() {}

    func enforce(_ request: ScannedRequest, subjects: [EventSubject?], body: RequestBytes, gpc: Bool) async -> Enforcement {
        Enforcement(edits: subjects.map { $0 == nil ? .drop : .keep }, rejected: false)
    }
}

typealias EventEdit = BatchEncoder.EventEdit
