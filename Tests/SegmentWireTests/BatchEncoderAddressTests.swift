import Foundation
import Testing

@testable import SegmentWire

/// `context.ip` edits, alone and together with a restamp: every output is valid JSON and differs from
/// the input only where the edit says.
@Suite struct BatchEncoderAddressTests {
    typealias Address = BatchEncoder.AddressEdit
    static let stamp = [CategoryPreference(category: "A", granted: true)]

    static func encode(
        _ json: String, _ address: Address, route: TrackingRoute = .single(.track), edit: BatchEncoder.EventEdit = .keep,
        envelope: Address = .keep, removeSharedStamp: Bool = false
    ) throws -> String {
        let bytes = Array(json.utf8)
        let request = try ScanFixture.scan(bytes, route: route)
        let edits = Array(repeating: edit, count: request.events.count)
        let addresses = Array(repeating: address, count: request.events.count)
        let out = try #require(
            bytes.withUnsafeBytes {
                BatchEncoder.encode(
                    body: $0, request: request, edits: edits, removeSharedStamp: removeSharedStamp, addresses: addresses,
                    envelopeAddress: envelope)
            })
        // Valid JSON, and scannable again.
        _ = try JSONSerialization.jsonObject(with: Data(out))
        _ = try ScanFixture.scan(out, route: route)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func fillsIntoAnExistingContext() throws {
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"library":{"name":"analytics.js"}}}"#, .set("192.0.2.1"))
                == #"{"userId":"u","event":"E","context":{"ip":"192.0.2.1","library":{"name":"analytics.js"}}}"#)
        #expect(try Self.encode(#"{"userId":"u","event":"E","context":{ }}"#, .set("::1")) == #"{"userId":"u","event":"E","context":{"ip":"::1" }}"#)
    }

    @Test func fillsANewContext() throws {
        #expect(try Self.encode(#"{"userId":"u","event":"E"}"#, .set("192.0.2.1")) == #"{"context":{"ip":"192.0.2.1"},"userId":"u","event":"E"}"#)
    }

    @Test func replacesAnAddress() throws {
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"a":1, "ip" : "192.0.2.77" ,"b":2}}"#, .set("192.0.2.0"))
                == #"{"userId":"u","event":"E","context":{"a":1, "ip" : "192.0.2.0" ,"b":2}}"#)
        // Whatever the value was.
        #expect(try Self.encode(#"{"userId":"u","event":"E","context":{"ip":null}}"#, .set("1.2.3.0")) == #"{"userId":"u","event":"E","context":{"ip":"1.2.3.0"}}"#)
    }

    @Test(arguments: [
        (#"{"ip":"1.2.3.4"}"#, #"{}"#),
        (#"{"ip":"1.2.3.4","a":1}"#, #"{"a":1}"#),
        (#"{"a":1,"ip":"1.2.3.4"}"#, #"{"a":1}"#),
        (#"{"a":1, "ip": {"x":[1,2]} ,"b":2}"#, #"{"a":1, "b":2}"#),
    ])
    func removesAnAddress(context: String, expected: String) throws {
        let json = #"{"userId":"u","event":"E","context":"# + context + "}"
        #expect(try Self.encode(json, .remove) == #"{"userId":"u","event":"E","context":"# + expected + "}")
    }

    @Test func removingNothingChangesNothing() throws {
        let json = #"{"userId":"u","event":"E","context":{"a":1}}"#
        #expect(try Self.encode(json, .remove) == json)
    }

    @Test func aRestampAndAnAddressTogether() throws {
        // Stamp replaced, address filled into the context.
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"consent":{"categoryPreferences":{"A":false}}}}"#, .set("1.2.3.4"), edit: .restamp(Self.stamp))
                == #"{"userId":"u","event":"E","context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"A":true}}}}"#)
        // Stamp inserted into consent, address filled into the context.
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"consent":{}}}"#, .set("1.2.3.4"), edit: .restamp(Self.stamp))
                == #"{"userId":"u","event":"E","context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"A":true}}}}"#)
        // Both into the context.
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"x":1}}"#, .set("1.2.3.4"), edit: .restamp(Self.stamp))
                == #"{"userId":"u","event":"E","context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"A":true}},"x":1}}"#)
        // Both into a new context.
        #expect(
            try Self.encode(#"{"userId":"u","event":"E"}"#, .set("1.2.3.4"), edit: .restamp(Self.stamp))
                == #"{"context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"A":true}}},"userId":"u","event":"E"}"#)
        // The only member removed while a stamp goes in: no dangling comma.
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"ip":"1.2.3.4"}}"#, .remove, edit: .restamp(Self.stamp))
                == #"{"userId":"u","event":"E","context":{"consent":{"categoryPreferences":{"A":true}}}}"#)
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"ip":"1.2.3.4","y":2}}"#, .remove, edit: .restamp(Self.stamp))
                == #"{"userId":"u","event":"E","context":{"consent":{"categoryPreferences":{"A":true}},"y":2}}"#)
        // Address replaced, stamp replaced, in either order in the context.
        #expect(
            try Self.encode(#"{"userId":"u","event":"E","context":{"consent":{"categoryPreferences":{"A":false}},"ip":"1.2.3.4"}}"#, .set("1.2.3.0"), edit: .restamp(Self.stamp))
                == #"{"userId":"u","event":"E","context":{"consent":{"categoryPreferences":{"A":true}},"ip":"1.2.3.0"}}"#)
    }

    @Test func aBatchsEnvelopeAddressIsReplacedOrRemoved() throws {
        let batch = #"{"context":{"ip":"1.2.3.4","consent":{"categoryPreferences":{"A":false}}},"batch":[{"type":"track","userId":"u","event":"E"}]}"#
        #expect(
            try Self.encode(batch, .keep, route: .batch, envelope: .set("1.2.3.0"))
                == #"{"context":{"ip":"1.2.3.0","consent":{"categoryPreferences":{"A":false}}},"batch":[{"type":"track","userId":"u","event":"E"}]}"#)
        #expect(
            try Self.encode(batch, .keep, route: .batch, envelope: .remove)
                == #"{"context":{"consent":{"categoryPreferences":{"A":false}}},"batch":[{"type":"track","userId":"u","event":"E"}]}"#)
        // Together with the shared stamp's removal (each in its own object, each with its own comma).
        #expect(
            try Self.encode(batch, .keep, route: .batch, edit: .restamp(Self.stamp), envelope: .remove, removeSharedStamp: true)
                == #"{"context":{"consent":{}},"batch":[{"context":{"consent":{"categoryPreferences":{"A":true}}},"type":"track","userId":"u","event":"E"}]}"#)
    }

    @Test func eventsKeepTheirOrderAndOtherBytes() throws {
        let batch = #"{"batch":[{"type":"track","userId":"a","event":"E","context":{"ip":"9.9.9.9"}} , {"type":"track","userId":"b","event":"E"}],"writeKey":"k"}"#
        let bytes = Array(batch.utf8)
        let request = try ScanFixture.scan(bytes, route: .batch)
        let out = try #require(
            bytes.withUnsafeBytes {
                BatchEncoder.encode(body: $0, request: request, edits: [.keep, .keep], addresses: [.remove, .set("1.1.1.1")])
            })
        #expect(
            String(decoding: out, as: UTF8.self)
                == #"{"batch":[{"type":"track","userId":"a","event":"E","context":{}},{"context":{"ip":"1.1.1.1"},"type":"track","userId":"b","event":"E"}],"writeKey":"k"}"#)
    }
}
