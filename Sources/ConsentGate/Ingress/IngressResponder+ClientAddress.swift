import ClientAddress
import NIOCore
import SegmentWire

extension IngressResponder {
    /// The visitor's address: the connection's peer, or, when the peer is a trusted proxy, the address
    /// its forwarding headers lead to (``TrustedProxies``). `nil` when the peer is no IP address (a Unix
    /// socket).
    func clientAddress(_ accepted: AcceptedRequest, channel: any Channel) -> IPAddress? {
        guard let peer = channel.remoteAddress.flatMap(IPAddress.init(socketAddress:)) else { return nil }
        guard !settings.trustedProxies.isEmpty else { return peer }
        let fields = accepted.fields
        return settings.trustedProxies.client(
            peer: peer, forwardedFor: fields.forwardedFor.map { [$0] } ?? [], forwarded: fields.forwarded.map { [$0] } ?? [])
    }
}

/// How many forwarded events' `context.ip` one request changed, for ``GatewayMetrics``.
struct AddressEditCounts {
    var filled = 0
    var truncated = 0
    var removed = 0
    var droppedEvents = 0

    /// Counts the edits of the events that go upstream (`edits` after enforcement and the plan's drops).
    init(_ plan: AddressPlan, request: ScannedRequest, edits: [EventEdit]) {
        droppedEvents = plan.unsafe.count
        for (index, edit) in plan.events.enumerated() where index < edits.count && edits[index] != .drop {
            switch edit {
            case .keep: break
            case .set: if request.events[index].address == nil { filled += 1 } else { truncated += 1 }
            case .remove: removed += 1
            }
        }
    }
}

extension IPAddress {
    /// The address of an IPv4 or IPv6 socket address.
    init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let address):
            self.init(ipv4: UInt32(bigEndian: address.address.sin_addr.s_addr))
        case .v6(let address):
            var raw = address.address.sin6_addr
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            self.init(bytes: bytes)
        case .unixDomainSocket:
            return nil
        }
    }
}
