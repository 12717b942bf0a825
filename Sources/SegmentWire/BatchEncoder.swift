/// Re-encodes a scanned request after some of its events were dropped or restamped, copying every
/// other byte from the original body.
///
/// On a batch route the envelope (`sentAt`, `writeKey`, `context`, `integrations`, any other member,
/// even its white space) stays byte-identical and the kept events keep their order and their bytes
/// (`messageId`, `timestamp` untouched); only the separators inside the `batch` array are rewritten.
public enum BatchEncoder {
    /// What to do with one event.
    public enum EventEdit: Sendable, Hashable {
        /// Forward the event's bytes unchanged.
        case keep
        /// Leave the event out.
        case drop
        /// Forward the event with its own `context.consent.categoryPreferences` set to these entries,
        /// in this order; no other byte of the event changes.
        case restamp([CategoryPreference])
    }

    /// Re-encodes `body` with one edit per event of `request`.
    ///
    /// - Parameters:
    ///   - body: the body `request` was scanned from.
    ///   - request: the scan of `body`.
    ///   - edits: one edit per event, in order. Invalid events (``ScannedEvent/defect`` set) must be
    ///     given `.drop`; an event without an edit is dropped.
    /// - Returns: the new body, or `nil` when no event is left (or `request` does not describe a
    ///   batch array inside `body`).
    ///   - removeSharedStamp: take the batch's top-level `context.consent.categoryPreferences` out of the
    ///     envelope (``ScannedRequest/sharedStampMember``); every other envelope byte is kept.
    public static func encode(
        body: UnsafeRawBufferPointer, request: ScannedRequest, edits: [EventEdit], removeSharedStamp: Bool = false
    ) -> [UInt8]? {
        func edit(_ index: Int) -> EventEdit { index < edits.count ? edits[index] : .drop }
        guard request.events.allSatisfy({ $0.range.lowerBound >= 0 && $0.range.upperBound <= body.count }) else {
            return nil
        }
        var extra = 0
        for index in request.events.indices {
            if case .restamp(let preferences) = edit(index) { extra += stampSizeBound(preferences) }
        }

        switch request.route {
        case .single:
            guard let event = request.events.first else { return nil }
            let eventEdit = edit(0)
            if eventEdit == .drop { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(body.count + extra)
            append(body, 0..<event.range.lowerBound, to: &out)
            appendEvent(event, eventEdit, body: body, to: &out)
            append(body, event.range.upperBound..<body.count, to: &out)
            return out

        case .batch:
            guard let array = request.batchArray, array.count >= 2, array.lowerBound >= 0, array.upperBound <= body.count
            else { return nil }
            let cut = removeSharedStamp ? request.sharedStampMember : nil
            var out: [UInt8] = []
            out.reserveCapacity(body.count + extra)
            append(body, 0..<(array.lowerBound + 1), cutting: cut, to: &out)
            var kept = 0
            for (index, event) in request.events.enumerated() {
                let eventEdit = edit(index)
                if eventEdit == .drop { continue }
                if kept > 0 { out.append(UInt8(ascii: ",")) }
                appendEvent(event, eventEdit, body: body, to: &out)
                kept += 1
            }
            guard kept > 0 else { return nil }
            append(body, (array.upperBound - 1)..<body.count, cutting: cut, to: &out)
            return out
        }
    }

    /// The edits that keep a batch's shared stamp from reaching an event it disagrees with.
    ///
    /// A receiver may merge the top-level `context` into each event with the batch winning, or merge the
    /// two stamps key by key; so once an event is restamped to its subject's truth, the shared stamp
    /// could still override it. When any event is restamped in a batch with a shared stamp, the shared
    /// stamp is removed, and every kept event that had no stamp of its own (it was verified against the
    /// shared one) gets a copy of it, so no forwarded event is left unstamped.
    /// - Returns: the edits to encode with, and whether to remove the shared stamp.
    public static func isolatingSharedStamp(_ request: ScannedRequest, edits: [EventEdit]) -> (edits: [EventEdit], removeSharedStamp: Bool) {
        guard let shared = request.sharedStamp, request.sharedStampMember != nil,
            edits.contains(where: { if case .restamp = $0 { true } else { false } })
        else { return (edits, false) }
        let copy = Array(request.entries(of: shared))
        var isolated = edits
        for index in isolated.indices where isolated[index] == .keep && index < request.events.count {
            if request.events[index].stamp == nil { isolated[index] = .restamp(copy) }
        }
        return (isolated, true)
    }

    /// Appends one event with its edit applied.
    private static func appendEvent(_ event: ScannedEvent, _ edit: EventEdit, body: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard case .restamp(let preferences) = edit,
            event.range.count >= 2, body[event.range.lowerBound] == UInt8(ascii: "{")
        else {
            append(body, event.range, to: &out)
            return
        }
        let splice = Splice(event, body: body)
        append(body, event.range.lowerBound..<splice.range.lowerBound, to: &out)
        splice.write(preferences, to: &out)
        append(body, splice.range.upperBound..<event.range.upperBound, to: &out)
    }

    /// Where a restamp goes in an event: the event's own `categoryPreferences` is replaced; else the stamp
    /// is inserted right after the `{` of the innermost of `consent`, `context` or the event that exists.
    private struct Splice {
        enum Into {
            case stamp, consent, context, event
        }

        /// The bytes replaced (empty for an insertion).
        var range: Range<Int>
        var into: Into
        /// Whether the object inserted into has members, so the insertion needs a comma after it.
        var comma: Bool

        init(_ event: ScannedEvent, body: UnsafeRawBufferPointer) {
            if let stamp = event.stamp {
                (range, into, comma) = (stamp.range, .stamp, false)
            } else if let consent = event.consent {
                let at = consent.range.lowerBound + 1
                (range, into, comma) = (at..<at, .consent, !consent.isEmpty)
            } else if let context = event.context {
                let at = context.range.lowerBound + 1
                (range, into, comma) = (at..<at, .context, !context.isEmpty)
            } else {
                let at = event.range.lowerBound + 1
                (range, into, comma) = (at..<at, .event, !isBlank(body, at..<(event.range.upperBound - 1)))
            }
        }

        func write(_ preferences: [CategoryPreference], to out: inout [UInt8]) {
            switch into {
            case .stamp: break
            case .consent: appendLiteral("\"categoryPreferences\":", to: &out)
            case .context: appendLiteral("\"consent\":{\"categoryPreferences\":", to: &out)
            case .event: appendLiteral("\"context\":{\"consent\":{\"categoryPreferences\":", to: &out)
            }
            appendStamp(preferences, to: &out)
            switch into {
            case .stamp, .consent: break
            case .context: out.append(UInt8(ascii: "}"))
            case .event: appendLiteral("}}", to: &out)
            }
            if comma { out.append(UInt8(ascii: ",")) }
        }
    }

    /// Appends `{"Cat":true,"Other":false}`: the entries in order, keys JSON-escaped, no spaces.
    static func appendStamp(_ preferences: [CategoryPreference], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (index, preference) in preferences.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.appendQuoted(preference.category, to: &out)
            out.append(UInt8(ascii: ":"))
            appendLiteral(preference.granted ? "true" : "false", to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// An upper bound of the bytes a restamp adds (escaping can grow a key sixfold).
    private static func stampSizeBound(_ preferences: [CategoryPreference]) -> Int {
        preferences.reduce(64) { $0 + $1.category.utf8.count * 6 + 9 }
    }

    private static func appendLiteral(_ literal: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends `range` of `body` without the bytes of `cut` that lie inside it.
    private static func append(_ body: UnsafeRawBufferPointer, _ range: Range<Int>, cutting cut: Range<Int>?, to out: inout [UInt8]) {
        guard let cut, cut.overlaps(range) else { return append(body, range, to: &out) }
        append(body, range.lowerBound..<max(range.lowerBound, cut.lowerBound), to: &out)
        append(body, min(range.upperBound, cut.upperBound)..<range.upperBound, to: &out)
    }

    private static func append(_ body: UnsafeRawBufferPointer, _ range: Range<Int>, to out: inout [UInt8]) {
        guard !range.isEmpty else { return }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[range]))
    }

    private static func isBlank(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        body[range].allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }
}
