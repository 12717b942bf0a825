import ConsentCore
import SegmentWire

/// What consent enforcement needs to know of one valid event, located in the body once. The ids stay
/// slices of the body: a batch whose subjects are cached is decided without making a `String` of them.
struct EventSubject: Sendable {
    var userId: ValueRef?
    var anonymousId: ValueRef?
    /// A `Segment Consent Preference Updated` track event: always forwarded, refreshes the cache.
    var isPreferenceUpdate: Bool

    /// Locates the identifiers of every event; `nil` for events with a defect (they are dropped).
    static func extract(from request: ScannedRequest, body: UnsafeRawBufferPointer) -> [EventSubject?] {
        request.events.map { event in
            guard event.defect == nil else { return nil }
            return EventSubject(
                userId: event.userId,
                anonymousId: event.anonymousId,
                isPreferenceUpdate: event.type == .track
                    && event.eventName.map { JSONString.equals($0, VerdictEngine.preferenceUpdateEventName, in: body) } == true
            )
        }
    }

    /// The ids as strings (escapes decoded); an empty id counts as absent.
    func ids(in body: UnsafeRawBufferPointer) -> (userId: String?, anonymousId: String?) {
        (Self.decoded(userId, body), Self.decoded(anonymousId, body))
    }

    /// The id a ``SubjectChoice`` names, decoded.
    func id(_ choice: SubjectChoice, in body: UnsafeRawBufferPointer) -> String? {
        Self.decoded(choice == .userId ? userId : anonymousId, body)
    }

    /// Where the ids' bytes are, as the store would see them; `nil` when an id has escapes (it must be
    /// decoded first, so the event takes the path by `String`).
    var bytes: (userId: Range<Int>?, anonymousId: Range<Int>?)? {
        guard let userId = Self.rawBytes(userId), let anonymousId = Self.rawBytes(anonymousId) else { return nil }
        return (userId, anonymousId)
    }

    /// `.some(nil)` for an absent (or empty) id, `.some(range)` for one whose bytes need no decoding,
    /// `nil` otherwise.
    private static func rawBytes(_ ref: ValueRef?) -> Range<Int>?? {
        guard let ref else { return .some(nil) }
        guard let content = JSONString.verbatimRange(of: ref) else { return nil }
        return .some(content.isEmpty ? nil : content)
    }

    private static func decoded(_ ref: ValueRef?, _ body: UnsafeRawBufferPointer) -> String? {
        guard let ref else { return nil }
        let value = JSONString.decode(ref, in: body)
        return value.isEmpty ? nil : value
    }
}
