import SegmentWire

/// What consent enforcement needs to know of one valid event, read out of the body once.
struct EventSubject: Sendable {
    var userId: String?
    var anonymousId: String?
    /// A `Segment Consent Preference Updated` track event: always forwarded, refreshes the cache.
    var isPreferenceUpdate: Bool

    static let preferenceUpdatedEvent = "Segment Consent Preference Updated"

    /// Reads the identifiers of every event; `nil` for events with a defect (they are dropped).
    static func extract(from request: ScannedRequest, body: UnsafeRawBufferPointer) -> [EventSubject?] {
        request.events.map { event in
            guard event.defect == nil else { return nil }
            return EventSubject(
                userId: nonEmpty(event.userId, body),
                anonymousId: nonEmpty(event.anonymousId, body),
                isPreferenceUpdate: event.type == .track
                    && event.eventName.map { JSONString.equals($0, preferenceUpdatedEvent, in: body) } == true
            )
        }
    }

    private static func nonEmpty(_ ref: ValueRef?, _ body: UnsafeRawBufferPointer) -> String? {
        guard let ref else { return nil }
        let value = JSONString.decode(ref, in: body)
        return value.isEmpty ? nil : value
    }
}
