import Testing

@testable import SegmentWire

/// What the scanner finds of `context.ip` and `context.library.name`.
@Suite struct BatchScannerAddressTests {
    static func text(_ bytes: [UInt8], _ range: Range<Int>?) -> String? {
        range.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    @Test func findsAnEventsAddressAndLibrary() throws {
        let bytes = Array(#"{"userId":"u","event":"E","context":{"library":{"version":"1","name":"analytics.js"},"ip":"192.0.2.1"}}"#.utf8)
        let event = try #require(try ScanFixture.scan(bytes, route: .single(.track)).events.first)
        #expect(Self.text(bytes, event.libraryName?.range) == #""analytics.js""#)
        let address = try #require(event.address)
        #expect(Self.text(bytes, address.value) == #""192.0.2.1""#)
        #expect(Self.text(bytes, address.member) == #","ip":"192.0.2.1""#)
        #expect(address.isString && !address.ambiguous)
    }

    @Test func aSecondOrFoldedAddressIsAmbiguous() throws {
        for context in [#"{"ip":"1.1.1.1","ip":"2.2.2.2"}"#, #"{"IP":"1.1.1.1"}"#, #"{"ip":"1.1.1.1","Ip":"2.2.2.2"}"#] {
            let bytes = Array((#"{"userId":"u","event":"E","context":"# + context + "}").utf8)
            let event = try #require(try ScanFixture.scan(bytes, route: .single(.track)).events.first)
            #expect(event.address?.ambiguous == true, "\(context)")
            // The event stays valid: an address is no consent field.
            #expect(event.defect == nil)
        }
        // An escaped `ip` is `ip` to every reader.
        let bytes = Array(#"{"userId":"u","event":"E","context":{"\u0069p":"1.1.1.1"}}"#.utf8)
        #expect(try ScanFixture.scan(bytes, route: .single(.track)).events.first?.address?.ambiguous == false)
    }

    @Test func nonStringValuesAreFoundButAreNoNames() throws {
        let bytes = Array(#"{"userId":"u","event":"E","context":{"ip":7,"library":{"name":3}}}"#.utf8)
        let event = try #require(try ScanFixture.scan(bytes, route: .single(.track)).events.first)
        #expect(event.address?.isString == false)
        #expect(event.libraryName == nil)
        let other = Array(#"{"userId":"u","event":"E","context":{"library":"analytics.js"}}"#.utf8)
        #expect(try ScanFixture.scan(other, route: .single(.track)).events.first?.libraryName == nil)
    }

    @Test func findsABatchsTopLevelAddressAndLibrary() throws {
        let bytes = Array(#"{"context":{"library":{"name":"analytics-go"},"ip":"10.0.0.1"},"batch":[{"type":"track","userId":"u","event":"E"}]}"#.utf8)
        let request = try ScanFixture.scan(bytes, route: .batch)
        #expect(Self.text(bytes, request.libraryName?.range) == #""analytics-go""#)
        #expect(Self.text(bytes, request.address?.value) == #""10.0.0.1""#)
        #expect(request.events.first?.address == nil)
    }

    @Test func anAddressOutsideContextIsNotTheAddress() throws {
        let bytes = Array(#"{"userId":"u","event":"E","ip":"1.1.1.1","properties":{"context":{"ip":"2.2.2.2"}}}"#.utf8)
        let event = try #require(try ScanFixture.scan(bytes, route: .single(.track)).events.first)
        #expect(event.address == nil)
    }
}
