import SegmentWire

/// `context.ip` edits (`ingress.client_ip.fill`, `privacy.ip`) on top of the consent edits: every
/// combination of fill, replace and remove with keep, drop and restamp, on whatever shape the input's
/// events and contexts have. The re-encoded body scans again, each kept event carries exactly the address
/// and the stamp it was given, and nothing else a receiver reads changes.
func checkAddressEdits(
    _ request: ScannedRequest, body: UnsafeRawBufferPointer, edits: [BatchEncoder.EventEdit], removeSharedStamp: Bool, variant: Variant
) {
    let choices: [BatchEncoder.AddressEdit] = [.keep, .set("203.0.113.7"), .remove, .set("2001:db8::")]
    let addresses = request.events.indices.map { choices[(Int(variant.extra) + $0 * 3) % choices.count] }
    let envelope = choices[Int(variant.extra >> 2) % choices.count]
    let kept = edits.indices.filter { edits[$0] != .drop }
    guard
        let encoded = BatchEncoder.encode(
            body: body, request: request, edits: edits, removeSharedStamp: removeSharedStamp, addresses: addresses, envelopeAddress: envelope)
    else {
        check(kept.isEmpty, "the encoder gave nothing with address edits although \(kept.count) events are kept")
        return
    }
    encoded.withUnsafeBytes { out in
        let rescanned = rescan(out, route: request.route, variant: variant, what: "the body with address edits")
        check(rescanned.events.count == kept.count, "address edits: \(rescanned.events.count) events, expected \(kept.count)")
        func value(_ member: AddressMember?, in bytes: UnsafeRawBufferPointer) -> [UInt8]? { member.map { slice(bytes, $0.value) } }
        func quoted(_ text: String) -> [UInt8] { Array("\"\(text)\"".utf8) }
        func expect(_ edit: BatchEncoder.AddressEdit, _ before: AddressMember?, _ after: AddressMember?, _ what: String, adds: Bool = true) {
            switch edit {
            case .set where !adds && before == nil:
                check(after == nil, "\(what): an address was added")
            case .keep:
                check(value(before, in: body) == value(after, in: out), "\(what): a kept address changed")
            case .set(let text):
                check(after?.isString == true && value(after, in: out) == quoted(text), "\(what): the address set is not there")
            case .remove:
                // An ambiguous address (a second `ip` member or `IP`) keeps its other spelling: the policy
                // drops such events instead of removing one member (AddressPolicy's `unsafe`).
                if before?.ambiguous != true { check(after == nil, "\(what): a removed address is still there") }
            }
        }
        if case .batch = request.route {
            // A batch's top-level address is replaced or removed, never added.
            expect(envelope, request.address, rescanned.address, "the envelope", adds: false)
            check(removeSharedStamp || (rescanned.sharedStamp == nil) == (request.sharedStamp == nil), "address edits moved the shared stamp")
        }
        for (position, index) in kept.enumerated() {
            let original = request.events[index]
            let now = rescanned.events[position]
            check(now.defect == nil, "address edits made kept event \(index) invalid: \(now.defect!.rawValue)")
            expect(addresses[index], original.address, now.address, "event \(index)")
            check(original.type == now.type, "address edits changed event \(index)'s type")
            for pick in [\ScannedEvent.userId, \.anonymousId, \.messageId, \.eventName, \.groupId, \.previousId, \.libraryName] {
                let a = original[keyPath: pick].map { JSONString.decode($0, in: body) }
                let b = now[keyPath: pick].map { JSONString.decode($0, in: out) }
                check(a == b, "address edits changed a field of event \(index)")
            }
            let stamp = now.stamp.map { Array(rescanned.entries(of: $0)) }
            switch edits[index] {
            case .restamp(let preferences): check(stamp == preferences, "address edits lost event \(index)'s restamp")
            default: check(stamp == original.stamp.map { Array(request.entries(of: $0)) }, "address edits changed event \(index)'s stamp")
            }
        }
    }
}
