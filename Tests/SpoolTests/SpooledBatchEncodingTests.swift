import Testing

@testable import Spool

@Suite struct SpooledBatchEncodingTests {
    private func encoded(_ batch: SpooledBatch) -> [UInt8] {
        var bytes: [UInt8] = []
        batch.encode(into: &bytes)
        return bytes
    }

    @Test(arguments: [sampleBatch(1), sampleBatch(2, bodyBytes: 0, minimal: true), sampleBatch(3, bodyBytes: 70_000)])
    func roundTrip(batch: SpooledBatch) throws {
        let bytes = encoded(batch)
        #expect(bytes.count == batch.encodedCount)
        #expect(try SpooledBatch.decode(bytes) == batch)
        #expect(try bytes.withUnsafeBytes { try SpooledBatch.acceptedAt($0) } == batch.acceptedAtMilliseconds)
    }

    /// An empty string and an absent header are different values and stay different.
    @Test func emptyIsNotAbsent() throws {
        var batch = sampleBatch(4, minimal: true)
        batch.authorization = ""
        let decoded = try SpooledBatch.decode(encoded(batch))
        #expect(decoded.authorization == "")
        #expect(decoded.contentType == nil)
    }

    @Test func everyTruncationIsRefused() {
        let bytes = encoded(sampleBatch(5, bodyBytes: 8))
        for count in 0..<bytes.count {
            #expect(throws: SpoolError.self) { try SpooledBatch.decode(Array(bytes[..<count])) }
        }
    }

    @Test func anotherVersionOrTrailingBytesAreRefused() {
        var bytes = encoded(sampleBatch(6))
        #expect(throws: SpoolError.self) { try SpooledBatch.decode(bytes + [0]) }
        bytes[0] = 2
        #expect(throws: SpoolError.self) { try SpooledBatch.decode(bytes) }
    }
}
