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

    /// What to do with one event's `context.ip` (the client's address, ``ScannedEvent/address``).
    public enum AddressEdit: Sendable, Hashable {
        /// Leave it as it is (or absent).
        case keep
        /// Set it to this address: the value is replaced when the event has one, else the member is
        /// added to the event's `context` (created when absent).
        case set(String)
        /// Remove the member.
        case remove
    }

    /// Re-encodes `body` with one edit per event of `request`.
    ///
    /// - Parameters:
    ///   - body: the body `request` was scanned from.
    ///   - request: the scan of `body`.
    ///   - edits: one edit per event, in order. Invalid events (``ScannedEvent/defect`` set) must be
    ///     given `.drop`; an event without an edit is dropped.
    ///   - removeSharedStamp: take the batch's top-level `context.consent.categoryPreferences` out of the
    ///     envelope (``ScannedRequest/sharedStampMember``); every other envelope byte is kept.
    ///   - addresses: one address edit per event, in order; empty (or short) means `.keep` for the rest.
    ///   - envelopeAddress: what to do with a batch's top-level `context.ip` (``ScannedRequest/address``),
    ///     which is replaced or removed, never added.
    /// - Returns: the new body, or `nil` when no event is left (or `request` does not describe a
    ///   batch array inside `body`).
    public static func encode(
        body: UnsafeRawBufferPointer, request: ScannedRequest, edits: [EventEdit], removeSharedStamp: Bool = false,
        addresses: [AddressEdit] = [], envelopeAddress: AddressEdit = .keep
    ) -> [UInt8]? {
        func edit(_ index: Int) -> EventEdit { index < edits.count ? edits[index] : .drop }
        func address(_ index: Int) -> AddressEdit { index < addresses.count ? addresses[index] : .keep }
        guard request.events.allSatisfy({ $0.range.lowerBound >= 0 && $0.range.upperBound <= body.count }) else {
            return nil
        }
        var extra = 0
        for index in request.events.indices {
            if case .restamp(let preferences) = edit(index) { extra += stampSizeBound(preferences) }
            if case .set(let text) = address(index) { extra += text.utf8.count * 6 + 24 }
        }

        switch request.route {
        case .single:
            guard let event = request.events.first else { return nil }
            let eventEdit = edit(0)
            if eventEdit == .drop { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(body.count + extra)
            append(body, 0..<event.range.lowerBound, to: &out)
            appendEvent(event, eventEdit, address(0), body: body, to: &out)
            append(body, event.range.upperBound..<body.count, to: &out)
            return out

        case .batch:
            guard let array = request.batchArray, array.count >= 2, array.lowerBound >= 0, array.upperBound <= body.count
            else { return nil }
            let envelope = EnvelopePatch(request, removeSharedStamp: removeSharedStamp, address: envelopeAddress)
            if case .set(let text) = envelopeAddress { extra += text.utf8.count * 6 }
            var out: [UInt8] = []
            out.reserveCapacity(body.count + extra)
            envelope.append(body, 0..<(array.lowerBound + 1), to: &out)
            var kept = 0
            for (index, event) in request.events.enumerated() {
                let eventEdit = edit(index)
                if eventEdit == .drop { continue }
                if kept > 0 { out.append(UInt8(ascii: ",")) }
                appendEvent(event, eventEdit, address(index), body: body, to: &out)
                kept += 1
            }
            guard kept > 0 else { return nil }
            envelope.append(body, (array.upperBound - 1)..<body.count, to: &out)
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

    /// Appends one event with its edits applied.
    private static func appendEvent(
        _ event: ScannedEvent, _ edit: EventEdit, _ address: AddressEdit, body: UnsafeRawBufferPointer, to out: inout [UInt8]
    ) {
        var restamp: [CategoryPreference]?
        if case .restamp(let preferences) = edit { restamp = preferences }
        guard restamp != nil || address != .keep, event.range.count >= 2, body[event.range.lowerBound] == UInt8(ascii: "{")
        else {
            append(body, event.range, to: &out)
            return
        }
        let patch = EventPatch(event, restamp: restamp, address: address, body: body)
        patch.splices.append(body, event.range, to: &out)
    }

    /// One change to a run of bytes: `range` is replaced by `content` (an insertion when empty).
    struct Splice {
        enum Content {
            /// A new `categoryPreferences` object in place of the old one.
            case stamp([CategoryPreference])
            /// A new address string in place of the old value.
            case address(String)
            /// Nothing: the range is cut.
            case cut
            /// `"categoryPreferences":{…}` into a `consent` object.
            case consentMember([CategoryPreference], comma: Bool)
            /// `"ip":"…"` and/or `"consent":{"categoryPreferences":{…}}` into a `context` object.
            case contextMembers(address: String?, stamp: [CategoryPreference]?, comma: Bool)
            /// `"context":{…}` holding those members into an event object.
            case context(address: String?, stamp: [CategoryPreference]?, comma: Bool)
        }

        var range: Range<Int>
        var content: Content

        func write(to out: inout [UInt8]) {
            switch content {
            case .stamp(let preferences):
                appendStamp(preferences, to: &out)
            case .address(let text):
                JSONString.appendQuoted(text, to: &out)
            case .cut:
                break
            case .consentMember(let preferences, let comma):
                appendLiteral("\"categoryPreferences\":", to: &out)
                appendStamp(preferences, to: &out)
                if comma { out.append(UInt8(ascii: ",")) }
            case .contextMembers(let address, let stamp, let comma):
                appendContextMembers(address: address, stamp: stamp, to: &out)
                if comma { out.append(UInt8(ascii: ",")) }
            case .context(let address, let stamp, let comma):
                appendLiteral("\"context\":{", to: &out)
                appendContextMembers(address: address, stamp: stamp, to: &out)
                out.append(UInt8(ascii: "}"))
                if comma { out.append(UInt8(ascii: ",")) }
            }
        }

        private func appendContextMembers(address: String?, stamp: [CategoryPreference]?, to out: inout [UInt8]) {
            if let address {
                appendLiteral("\"ip\":", to: &out)
                JSONString.appendQuoted(address, to: &out)
                if stamp != nil { out.append(UInt8(ascii: ",")) }
            }
            if let stamp {
                appendLiteral("\"consent\":{\"categoryPreferences\":", to: &out)
                appendStamp(stamp, to: &out)
                out.append(UInt8(ascii: "}"))
            }
        }
    }

    /// At most two splices, in order (an insertion before a cut that starts at the same byte), without
    /// an allocation: an event has at most one near its stamp and one near its address.
    struct Splices {
        private var first: Splice?
        private var second: Splice?

        mutating func add(_ splice: Splice?) {
            guard let splice else { return }
            guard let existing = first else {
                first = splice
                return
            }
            let before =
                splice.range.lowerBound < existing.range.lowerBound
                || (splice.range.lowerBound == existing.range.lowerBound && splice.range.isEmpty)
            (first, second) = before ? (splice, existing) : (existing, splice)
        }

        /// Appends `range` of `body` with the splices that lie inside it applied.
        func append(_ body: UnsafeRawBufferPointer, _ range: Range<Int>, to out: inout [UInt8]) {
            var at = range.lowerBound
            func apply(_ splice: Splice?) {
                guard let splice, splice.range.lowerBound >= at, splice.range.lowerBound >= range.lowerBound,
                    splice.range.upperBound <= range.upperBound
                else { return }
                BatchEncoder.append(body, at..<splice.range.lowerBound, to: &out)
                splice.write(to: &out)
                at = splice.range.upperBound
            }
            apply(first)
            apply(second)
            BatchEncoder.append(body, at..<range.upperBound, to: &out)
        }
    }

    /// Where an event's edits go. A restamp replaces the event's own `categoryPreferences`, else is
    /// inserted right after the `{` of the innermost of `consent`, `context` or the event that exists;
    /// an address replaces the value of `context.ip`, else is inserted into `context` (created when
    /// absent); a removal cuts the `ip` member.
    private struct EventPatch {
        var splices = Splices()

        init(_ event: ScannedEvent, restamp: [CategoryPreference]?, address edit: AddressEdit, body: UnsafeRawBufferPointer) {
            var contextStamp: [CategoryPreference]?
            var contextAddress: String?
            if let restamp {
                if let stamp = event.stamp {
                    splices.add(Splice(range: stamp.range, content: .stamp(restamp)))
                } else if let consent = event.consent {
                    let at = consent.range.lowerBound + 1
                    splices.add(Splice(range: at..<at, content: .consentMember(restamp, comma: !consent.isEmpty)))
                } else {
                    contextStamp = restamp
                }
            }
            var removesOnlyMember = false
            switch edit {
            case .keep:
                break
            case .set(let text):
                if let member = event.address {
                    splices.add(Splice(range: member.value, content: .address(text)))
                } else {
                    contextAddress = text
                }
            case .remove:
                if let member = event.address {
                    splices.add(Splice(range: member.member, content: .cut))
                    if let context = event.context {
                        removesOnlyMember =
                            isBlank(body, (context.range.lowerBound + 1)..<member.member.lowerBound)
                            && isBlank(body, member.member.upperBound..<(context.range.upperBound - 1))
                    }
                }
            }
            guard contextStamp != nil || contextAddress != nil else { return }
            if let context = event.context {
                let at = context.range.lowerBound + 1
                let comma = !context.isEmpty && !removesOnlyMember
                splices.add(Splice(range: at..<at, content: .contextMembers(address: contextAddress, stamp: contextStamp, comma: comma)))
            } else {
                let at = event.range.lowerBound + 1
                let comma = !isBlank(body, at..<(event.range.upperBound - 1))
                splices.add(Splice(range: at..<at, content: .context(address: contextAddress, stamp: contextStamp, comma: comma)))
            }
        }
    }

    /// A batch envelope's edits: the shared stamp's member cut, the top-level `context.ip` replaced or cut.
    private struct EnvelopePatch {
        var splices = Splices()

        init(_ request: ScannedRequest, removeSharedStamp: Bool, address: AddressEdit) {
            if removeSharedStamp, let member = request.sharedStampMember {
                splices.add(Splice(range: member, content: .cut))
            }
            guard let member = request.address else { return }
            switch address {
            case .keep: break
            case .set(let text): splices.add(Splice(range: member.value, content: .address(text)))
            // The shared stamp's member lies in `consent`, this one in `context`: their commas differ.
            case .remove: splices.add(Splice(range: member.member, content: .cut))
            }
        }

        func append(_ body: UnsafeRawBufferPointer, _ range: Range<Int>, to out: inout [UInt8]) {
            splices.append(body, range, to: &out)
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

    fileprivate static func appendLiteral(_ literal: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    fileprivate static func append(_ body: UnsafeRawBufferPointer, _ range: Range<Int>, to out: inout [UInt8]) {
        guard !range.isEmpty else { return }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[range]))
    }

    fileprivate static func isBlank(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        body[range].allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }
}
