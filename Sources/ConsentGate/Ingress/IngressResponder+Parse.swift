import Hummingbird
import NIOCore
import SegmentWire

/// A request body read, decoded and scanned: what the decision steps take.
struct ParsedRequest {
    /// The bytes as they came on the wire (forwarded as they are when nothing changes).
    var wire: ByteBuffer
    /// The decoded body the scan's ranges index into.
    var body: RequestBytes
    var scanned: ScannedRequest
    /// One per event; `nil` for an invalid event.
    var subjects: [EventSubject?]
    /// The body's `writeKey`, read only when the gateway has an allowlist (``SourceTable/checksWriteKeys``).
    var bodyWriteKey: String?
}

extension IngressResponder {
    /// The body, under the hard cap and the body deadline.
    func readBody(_ request: Request, _ accepted: AcceptedRequest, channel: any Channel) async throws -> ByteBuffer {
        let wire = try await collectBody(request, upTo: settings.maxBodyBytes, channel: channel)
        metrics.body(bytes: wire.readableBytes)
        return wire
    }

    /// A body under `cap` and the body deadline; too large or too slow becomes its refusal.
    func collectBody(_ request: Request, upTo cap: Int, channel: any Channel) async throws -> ByteBuffer {
        do {
            return try await BodyReader.collect(
                request.body, upTo: cap, within: settings.bodyTimeout, linger: settings.oversizedBodyLinger, on: channel.eventLoop)
        } catch let tooLarge as BodyReader.TooLarge {
            // Still sending after the linger: close rather than drain the rest, as for a trickled body.
            throw IngressRefusal(.payloadTooLarge, "the request body is larger than \(cap) bytes", closesConnection: !tooLarge.finished)
        } catch is BodyReader.Timeout {
            throw IngressRefusal(.bodyTimeout, "the request body did not arrive within \(settings.bodyTimeout)", closesConnection: true)
        }
    }

    /// Inflates the body under the cap and scans it once, reading what enforcement needs while the
    /// bytes are at hand.
    func parse(_ wire: ByteBuffer, _ accepted: AcceptedRequest) throws(IngressRefusal) -> ParsedRequest {
        do throws(WireError) {
            let body = try decode(wire, coding: accepted.coding)
            let (scanned, subjects, bodyWriteKey) = try body.withBytes { (bytes) throws(WireError) in
                let scanned = try scanner.scan(bytes, route: accepted.route)
                let key = !sources.checksWriteKeys ? nil : scanned.writeKey.map { JSONString.decode($0, in: bytes) }
                return (scanned, EventSubject.extract(from: scanned, body: bytes), key)
            }
            return ParsedRequest(wire: wire, body: body, scanned: scanned, subjects: subjects, bodyWriteKey: bodyWriteKey)
        } catch {
            throw IngressRefusal(error)
        }
    }

    private func decode(_ wire: ByteBuffer, coding: ContentCoding) throws(WireError) -> RequestBytes {
        if coding == .identity { return .wire(wire) }
        let result: Result<[UInt8], WireError> = wire.withUnsafeReadableBytes { pointer in
            do throws(WireError) {
                return .success(try Inflater.inflate(pointer, coding: coding, limit: settings.maxBodyBytes, using: settings.deflateLibrary))
            } catch {
                return .failure(error)
            }
        }
        return .inflated(try result.get())
    }
}
