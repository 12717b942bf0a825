import Testing

@testable import Spool

@Suite struct SpoolIndexTests {
    private func entry(_ segment: UInt64, _ offset: UInt64, bytes: Int64 = 100, at time: Int64 = 0) -> SpoolIndex.Entry {
        SpoolIndex.Entry(id: SpoolRecordID(segment: segment, offset: offset), frameBytes: bytes, acceptedAt: time)
    }

    private func committed(_ index: inout SpoolIndex, _ entry: SpoolIndex.Entry) {
        let r1 = index.reserve(entry.frameBytes)
        #expect(r1)
        index.commit(entry)
    }

    @Test func reservationsCountAgainstTheBoundUntilReleasedOrDone() {
        var index = SpoolIndex(maxBytes: 250)
        index.addSegment(1)
        let r2 = index.reserve(100)
        #expect(r2)
        let r3 = index.reserve(100)
        #expect(r3)
        let r4 = index.reserve(100)
        #expect(!r4)  // 300 > 250: refused, and nothing counted
        #expect(index.reserved == 200)
        index.release(100)  // a failed commit
        index.commit(entry(1, 8))
        #expect(index.bytes == 100)
        #expect(index.reserved == 0)
        let r5 = index.reserve(150)
        #expect(r5)
        index.release(150)
        let taken = index.take(max: 1)
        let r6 = index.complete(taken[0].id)
        #expect(r6 == .markDone(taken[0].id))
        #expect(index.bytes == 0)
        let r7 = index.reserve(250)
        #expect(r7)
    }

    @Test func handsOutOldestFirstAndEachOnce() {
        var index = SpoolIndex(maxBytes: 10_000)
        index.addSegment(1)
        for offset: UInt64 in [8, 108, 208] { committed(&index, entry(1, offset)) }
        let first = index.take(max: 2)
        let second = index.take(max: 5)
        let third = index.take(max: 5)
        #expect(first.map(\.id.offset) == [8, 108])
        #expect(second.map(\.id.offset) == [208])
        #expect(third.isEmpty)
        #expect(index.batches == 3)
        #expect(index.waiting == 0)
    }

    /// 16 in flight, completed in any order: the segment goes when its last record is done, not before.
    @Test func outOfOrderCompletionDeletesTheSealedSegmentLast() {
        var index = SpoolIndex(maxBytes: 1 << 20)
        index.addSegment(1)
        let entries = (0..<16).map { entry(1, 8 + UInt64($0) * 100) }
        for e in entries { committed(&index, e) }
        let r8 = index.seal(1)
        #expect(!r8)
        index.addSegment(2)
        let taken = index.take(max: 16)
        for e in taken.reversed().dropLast() {
            let r9 = index.complete(e.id)
            #expect(r9 == .markDone(e.id))
        }
        let r10 = index.complete(taken[0].id)
        #expect(r10 == .deleteSegment(1))
        #expect(index.segments.keys.sorted() == [2])
        #expect(index.bytes == 0)
    }

    /// The active segment is never deleted while appends may go to it; sealing it when all is done does.
    @Test func theActiveSegmentStaysUntilSealed() {
        var index = SpoolIndex(maxBytes: 1 << 20)
        index.addSegment(1)
        committed(&index, entry(1, 8))
        let id = index.take(max: 1)[0].id
        let r11 = index.complete(id)
        #expect(r11 == .markDone(id))
        let r12 = index.seal(1)
        #expect(r12)
        #expect(index.segments.isEmpty)
    }

    @Test func completingTwiceOrUnknownIsIgnored() {
        var index = SpoolIndex(maxBytes: 1 << 20)
        index.addSegment(1)
        committed(&index, entry(1, 8))
        committed(&index, entry(1, 108))
        let r13 = index.complete(SpoolRecordID(segment: 1, offset: 108))
        #expect(r13 == .ignored)  // not handed out yet
        let id = index.take(max: 1)[0].id
        let r14 = index.complete(id)
        #expect(r14 == .markDone(id))
        let r15 = index.complete(id)
        #expect(r15 == .ignored)
        let r16 = index.complete(SpoolRecordID(segment: 9, offset: 8))
        #expect(r16 == .ignored)
        #expect(index.bytes == 100)
    }

    @Test func oldestIsTheMinimumOverWaitingAndHandedOut() {
        var index = SpoolIndex(maxBytes: 1 << 20)
        index.addSegment(1)
        #expect(index.oldestAcceptedAt == nil)
        committed(&index, entry(1, 8, at: 500))
        committed(&index, entry(1, 108, at: 300))  // a requeued dead letter keeps its older time
        committed(&index, entry(1, 208, at: 700))
        #expect(index.oldestAcceptedAt == 300)
        let taken = index.take(max: 2)
        #expect(index.oldestAcceptedAt == 300)
        _ = index.complete(taken[1].id)
        #expect(index.oldestAcceptedAt == 500)
        _ = index.complete(taken[0].id)
        #expect(index.oldestAcceptedAt == 700)
    }

    /// In time order the oldest is the first waiting one; after a record out of order, and until the queue
    /// runs empty, every waiting one is looked at.
    @Test func oldestWithTheQueueInAndOutOfTimeOrder() {
        var index = SpoolIndex(maxBytes: 1 << 20)
        index.addSegment(1)
        for (n, time) in [100, 200, 300].enumerated() { committed(&index, entry(1, UInt64(n), at: Int64(time))) }
        #expect(index.oldestAcceptedAt == 100)
        var taken = index.take(max: 1)
        _ = index.complete(taken[0].id)
        #expect(index.oldestAcceptedAt == 200)
        committed(&index, entry(1, 3, at: 50))
        #expect(index.oldestAcceptedAt == 50)
        taken = index.take(max: 3)
        for e in taken { _ = index.complete(e.id) }
        #expect(index.oldestAcceptedAt == nil)
        committed(&index, entry(1, 4, at: 400))
        committed(&index, entry(1, 5, at: 500))
        #expect(index.oldestAcceptedAt == 400)
    }

    /// The queue drops handed-out entries now and then; order and counts survive it.
    @Test func compactionKeepsOrder() {
        var index = SpoolIndex(maxBytes: 1 << 30)
        index.addSegment(1)
        for n in 0..<3000 { committed(&index, entry(1, UInt64(n))) }
        var offsets: [UInt64] = []
        while true {
            let taken = index.take(max: 7)
            if taken.isEmpty { break }
            offsets += taken.map(\.id.offset)
        }
        #expect(offsets == (0..<3000).map { UInt64($0) })
        #expect(index.batches == 3000)
    }
}
