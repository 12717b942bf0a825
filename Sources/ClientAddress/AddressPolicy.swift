import SegmentWire

/// Where the client's address goes in forwarded events: which events get `context.ip` filled
/// (`ingress.client_ip.fill`) and what happens to every forwarded address (`privacy.ip`).
public struct AddressPolicy: Sendable, Hashable {
    /// `ingress.client_ip.fill`: which events without a `context.ip` get the client's address.
    public enum Fill: String, Sendable, Hashable, CaseIterable {
        /// Events of Segment's client-side libraries (``ClientLibraries``), as Segment's own servers do.
        case clientLibraries = "client_libraries"
        /// Every event.
        case all
        /// None.
        case off
    }

    /// `privacy.ip`: what every forwarded address becomes, filled or sent by the client.
    public enum Privacy: String, Sendable, Hashable, CaseIterable {
        case keep
        /// The host part zeroed: IPv4 to its /24, IPv6 to its /48.
        case truncate
        /// `context.ip` removed, and no `X-Forwarded-For` upstream.
        case drop
    }

    public var fill: Fill
    public var privacy: Privacy

    public init(fill: Fill = .clientLibraries, privacy: Privacy = .keep) {
        self.fill = fill
        self.privacy = privacy
    }

    /// The address as it may leave: the client's, truncated, or none.
    public func forwarded(_ client: IPAddress) -> IPAddress? {
        switch privacy {
        case .keep: client
        case .truncate: client.truncated
        case .drop: nil
        }
    }

    /// The address edits a request needs, or `nil` when it needs none (its bytes can go as they are).
    ///
    /// - Parameters:
    ///   - leaving: the client's address as it may leave (``forwarded(_:)``, as text: the request's
    ///     `X-Forwarded-For` too, so it is formatted once); `nil` when unknown or dropped (nothing is filled).
    /// - Returns: one edit per event, the edit of a batch's top-level `context.ip`, and the events that
    ///   must not be forwarded: under `truncate` or `drop`, an event whose `context.ip` is ambiguous
    ///   (``AddressMember/ambiguous``) cannot be made safe for every receiver.
    public func plan(_ request: ScannedRequest, body: UnsafeRawBufferPointer, leaving: String?) -> AddressPlan? {
        if fill == .off && privacy == .keep { return nil }
        // Made on the first change only: most requests (server-side libraries) need none.
        var plan: AddressPlan?
        func change(_ body: (inout AddressPlan) -> Void) {
            var changed = plan ?? AddressPlan(count: request.events.count)
            body(&changed)
            plan = changed
        }
        for (index, event) in request.events.enumerated() {
            let edit = self.edit(event, request: request, body: body, filled: leaving)
            // Even an address that needs no edit (already truncated) may have a second spelling that does.
            let isUnsafe = privacy != .keep && event.address?.ambiguous == true
            guard edit != .keep || isUnsafe else { continue }
            change {
                $0.events[index] = edit
                if isUnsafe { $0.unsafe.append(index) }
            }
        }
        if privacy != .keep, let member = request.address {
            let envelope = treat(member, body: body)
            if envelope != .keep { change { $0.envelope = envelope } }
            // No event of the batch is safe from the top-level context's other address.
            if member.ambiguous { change { $0.unsafe = Array(request.events.indices) } }
        }
        return plan
    }

    private func edit(_ event: ScannedEvent, request: ScannedRequest, body: UnsafeRawBufferPointer, filled: String?) -> BatchEncoder.AddressEdit {
        if let member = event.address { return treat(member, body: body) }
        // Segment merges a batch's top-level context into each event: its address is the event's.
        guard request.address == nil, let filled else { return .keep }
        switch fill {
        case .off: return .keep
        case .all: return .set(filled)
        case .clientLibraries:
            guard let name = event.libraryName ?? request.libraryName, name.kind == .string, !name.hasEscapes else { return .keep }
            let isClient = ClientLibraries.contains(UnsafeRawBufferPointer(rebasing: body[(name.range.lowerBound + 1)..<(name.range.upperBound - 1)]))
            return isClient ? .set(filled) : .keep
        }
    }

    /// An address the client sent, under ``privacy``: a value that is no address is removed, since it
    /// cannot be truncated.
    private func treat(_ member: AddressMember, body: UnsafeRawBufferPointer) -> BatchEncoder.AddressEdit {
        switch privacy {
        case .keep:
            return .keep
        case .drop:
            return .remove
        case .truncate:
            guard member.isString, member.value.count >= 2,
                let address = IPAddress(Substring(decoding: UnsafeRawBufferPointer(rebasing: body[(member.value.lowerBound + 1)..<(member.value.upperBound - 1)]), as: UTF8.self))
            else { return .remove }
            let truncated = address.truncated
            return truncated == address ? .keep : .set(truncated.description)
        }
    }
}

/// What ``AddressPolicy/plan(_:body:leaving:)`` decided for one request.
public struct AddressPlan: Sendable, Hashable {
    /// One edit per event, in order.
    public var events: [BatchEncoder.AddressEdit]
    /// The batch's top-level `context.ip`.
    public var envelope: BatchEncoder.AddressEdit = .keep
    /// Events that must be dropped: their address cannot be truncated or removed for every reader.
    public var unsafe: [Int] = []

    init(count: Int) {
        events = Array(repeating: .keep, count: count)
    }
}
