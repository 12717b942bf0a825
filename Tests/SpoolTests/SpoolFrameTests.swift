import Testing

@testable import Spool

@Suite struct SpoolFrameTests {
    private func scan(_ bytes: [UInt8]) -> (frames: [SpoolFrame.Found], stop: SpoolFrame.Stop) {
        bytes.withUnsafeBytes { SpoolFrame.scan($0) }
    }

    @Test func framesRoundTrip() throws {
        let batches = (0..<3).map { sampleBatch($0, bodyBytes: $0 * 100) }
        let frames = batches.map(SpoolFrame.encode)
        let (found, stop) = scan(frames.flatMap { $0 })
        #expect(stop == .end)
        #expect(found.map(\.frameCount) == frames.map(\.count))
        #expect(found.map(\.offset) == [0, frames[0].count, frames[0].count + frames[1].count])
        for (frame, batch) in zip(frames, batches) {
            let decoded = try frame.withUnsafeBytes { raw in try SpooledBatch.decode(try SpoolFrame.payload(ofFrame: raw)) }
            #expect(decoded == batch)
        }
    }

    /// The header is the payload's length, then its CRC-32C over the length bytes and the payload.
    @Test func headerLayout() {
        let frame = SpoolFrame.encode(payload: Array("123456789".utf8))
        #expect(Array(frame[0..<4]) == [9, 0, 0, 0])
        let crc = CRC32C.checksum(Array("123456789".utf8), continuing: CRC32C.checksum([9, 0, 0, 0]))
        #expect(Array(frame[4..<8]) == [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
    }

    @Test func aCutFrameNeedsMore() {
        let first = SpoolFrame.encode(sampleBatch(1))
        let second = SpoolFrame.encode(sampleBatch(2))
        for cut in 1..<second.count {
            let (found, stop) = scan(first + second[..<cut])
            #expect(found.count == 1)
            #expect(stop == .needMore(offset: first.count, needed: cut < 8 ? 8 : second.count))
        }
    }

    @Test func anyFlippedBitIsCorrupt() {
        let first = SpoolFrame.encode(sampleBatch(1, bodyBytes: 4))
        let second = SpoolFrame.encode(sampleBatch(2, bodyBytes: 4))
        for position in 0..<second.count {
            for bit in 0..<8 {
                var damaged = second
                damaged[position] ^= 1 << bit
                let (found, stop) = scan(first + damaged)
                #expect(found.count == 1)
                // A flipped length bit may also claim more bytes than there are: that is a cut frame.
                switch stop {
                case .corrupt(let offset), .needMore(let offset, _): #expect(offset == first.count)
                case .end: Issue.record("bit \(bit) of byte \(position) went unnoticed")
                }
            }
        }
    }

    /// A frame keyed for its segment reads back with that segment's key only: in a recycled file, a
    /// record of the file's earlier life (another segment number) never passes for one of the new segment.
    @Test func aKeyedFrameReadsOnlyWithItsSegmentsKey() throws {
        let batch = sampleBatch(1)
        var frame = SpoolFrame.encode(batch)
        SpoolFrame.applyKey(SpoolFrame.key(segment: 7), toFrameAt: 0, in: &frame)
        let (found, stop) = frame.withUnsafeBytes { SpoolFrame.scan($0, key: SpoolFrame.key(segment: 7)) }
        #expect(found.count == 1 && stop == .end)
        let decoded = try frame.withUnsafeBytes { raw in
            try SpooledBatch.decode(try SpoolFrame.payload(ofFrame: raw, key: SpoolFrame.key(segment: 7)))
        }
        #expect(decoded == batch)
        for other in [0, 6, 8, 7 + (1 << 33)] as [UInt64] where SpoolFrame.key(segment: other) != SpoolFrame.key(segment: 7) {
            #expect(frame.withUnsafeBytes { SpoolFrame.scan($0, key: SpoolFrame.key(segment: other)) }.stop == .corrupt(offset: 0))
        }
        // Unkeyed (a version-1 segment, a dead letter): key 0 is no key at all.
        #expect(scan(SpoolFrame.encode(batch)).stop == .end)
        #expect(SpoolFrame.key(segment: 7) != 0)
    }

    /// A zero-filled tail (a file extended but never written) is not a frame.
    @Test func zerosAreCorrupt() {
        #expect(scan([UInt8](repeating: 0, count: 64)).stop == .corrupt(offset: 0))
    }
}
