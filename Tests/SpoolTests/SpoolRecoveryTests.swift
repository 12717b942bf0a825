import Foundation
import Synchronization
import Testing

@testable import Spool

/// What open does with what a crash (or the disk) left behind.
@Suite struct SpoolRecoveryTests {
    /// A spool with `count` small records (`record(n)`) in segment 1, closed; returns the segment's bytes and
    /// the offset where each record starts.
    private func written(_ directory: borrowing TemporaryDirectory, count: Int) async throws -> (bytes: [UInt8], offsets: [Int]) {
        let log = try SpoolLog.open(configuration(directory))
        let ids = try await appendAll(log, (0..<count).map { record($0) })
        await log.close()
        return (try fileBytes(directory.file(SpoolDirectory.segmentName(1))), ids.map { Int($0.offset) })
    }

    /// Small, so that reopening at each of its bytes stays quick (about 60 of them).
    private func record(_ n: Int) -> SpooledBatch {
        sampleBatch(n, bodyBytes: 16, minimal: true)
    }

    /// The file holds only `segment1` as segment 1 (no done-marks, nothing else).
    private func reopen(with segment1: [UInt8]) throws -> (TemporaryDirectory, SpoolLog) {
        let directory = try TemporaryDirectory()
        try writeFile(directory.file(SpoolDirectory.segmentName(1)), segment1)
        return (directory, try SpoolLog.open(configuration(directory)))
    }

    /// A crash mid-write of the last record, at every byte of it: reopening keeps every earlier record,
    /// cuts the file back to where the last one started, and appends go on after it. (Eight cuts at a time:
    /// each reopen waits for a few syncs.)
    @Test func tornTailAtEveryByte() async throws {
        let source = try TemporaryDirectory()
        let (bytes, offsets) = try await written(source, count: 3)
        let start = offsets[2]
        let cuts = Array(start..<bytes.count)
        for group in stride(from: 0, to: cuts.count, by: 8).map({ cuts[$0..<min($0 + 8, cuts.count)] }) {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for cut in group {
                    tasks.addTask { try await self.reopenTorn(Array(bytes[..<cut]), start: start, append: cut == cuts.last) }
                }
                try await tasks.waitForAll()
            }
        }
    }

    private func reopenTorn(_ segment1: [UInt8], start: Int, append: Bool) async throws {
        let cut = segment1.count
        let (directory, log) = try reopen(with: segment1)
        let handed = await take(log, 2)
        #expect(handed.map(\.batch) == [record(0), record(1)], "cut at \(cut)")
        #expect(await nothingWaits(log, wait: .milliseconds(1)))
        #expect(log.statistics.corruptRecords == (cut > start ? 1 : 0))
        #expect(log.statistics.cutBytes == Int64(cut - start))
        #expect(try fileBytes(directory.file(SpoolDirectory.segmentName(1))).count == start)
        if cut == start || append {
            let id = try await log.append(sampleBatch(9))
            #expect(id == SpoolRecordID(segment: 2, offset: UInt64(SpoolFrame.segmentMagic.count)))
        }
        await log.close()
    }

    /// A wrong CRC in the last record loses that record alone.
    @Test func aBadCRCInTheLastRecordLosesItAlone() async throws {
        let source = try TemporaryDirectory()
        var (bytes, offsets) = try await written(source, count: 3)
        bytes[offsets[2] + 5] ^= 0x01
        let (_, log) = try reopen(with: bytes)
        #expect(await take(log, 2).count == 2)
        #expect(await nothingWaits(log, wait: .milliseconds(1)))
        #expect(log.statistics.corruptRecords == 1)
        await log.close()
    }

    /// A record damaged in the middle of a segment: nothing after it can be trusted to be framed (a length
    /// read from damaged bytes points anywhere), so the segment is cut there and its later records are lost
    /// with it. A crash cannot do this (only the unsynced last commit can be torn, and none of it was
    /// acknowledged); it is disk damage, and `cutBytes` reports how much went.
    @Test func aBadRecordInTheMiddleCutsTheRestOfItsSegment() async throws {
        let source = try TemporaryDirectory()
        var (bytes, offsets) = try await written(source, count: 4)
        bytes[offsets[1] + 20] ^= 0x80
        let (_, log) = try reopen(with: bytes)
        #expect(await take(log, 1).map(\.batch) == [record(0)])
        #expect(await nothingWaits(log, wait: .milliseconds(1)))
        #expect(log.statistics.corruptRecords == 1)
        #expect(log.statistics.cutBytes == Int64(bytes.count - offsets[1]))
        await log.close()
    }

    @Test func doneMarksSurviveARestartAndADamagedOneOnlyRedelivers() async throws {
        let directory = try TemporaryDirectory()
        do {
            let log = try SpoolLog.open(configuration(directory))
            _ = try await appendAll(log, (0..<4).map { sampleBatch($0) })
            for record in await take(log, 3) { log.complete(record.id) }
            await log.close()
        }
        let marks = directory.file(SpoolDirectory.doneName(1))
        var bytes = try fileBytes(marks)
        #expect(bytes.count == 3 * SpoolDoneMarks.entryBytes)
        bytes[bytes.count - 1] ^= 0xFF  // the third mark is damaged
        try writeFile(marks, bytes)
        let log = try SpoolLog.open(configuration(directory))
        #expect(await take(log, 2).map(\.batch) == [sampleBatch(2), sampleBatch(3)])
        #expect(await nothingWaits(log, wait: .milliseconds(1)))
        #expect(try fileBytes(marks).count == 2 * SpoolDoneMarks.entryBytes)  // cut before new marks go after it
        await log.close()
    }

    /// Leftovers of an interrupted create (`.tmp`), done-marks whose segment was deleted, and segments
    /// with nothing live are cleaned up; a file without the segment magic is set aside, not read.
    @Test func leftoversAreCleanedUp() async throws {
        let directory = try TemporaryDirectory()
        try writeFile(directory.file(SpoolDirectory.segmentName(4) + ".tmp"), SpoolFrame.segmentMagic)
        try writeFile(directory.file(SpoolDirectory.doneName(2)), SpoolDoneMarks.encode([8]))
        try writeFile(directory.file(SpoolDirectory.segmentName(3)), SpoolFrame.segmentMagic)
        try writeFile(directory.file(SpoolDirectory.segmentName(5)), Array("not a segment".utf8))
        try FileManager.default.createDirectory(atPath: directory.file("dead-letters"), withIntermediateDirectories: true)
        try writeFile(directory.file("dead-letters/x.dead.tmp"), [1, 2, 3])
        let log = try SpoolLog.open(configuration(directory))
        #expect(
            try names(directory.path) == [
                "00000000000000000005.log.damaged", SpoolDirectory.segmentName(6), "LOCK", "dead-letters",
            ].sorted())
        #expect(try names(directory.file("dead-letters")).isEmpty)
        #expect(log.statistics.corruptRecords == 1)
        #expect(log.status.segments == 1)
        await log.close()
    }

    /// A process killed mid-stream (kill -9) leaves what the page cache holds: here a copy of the files taken
    /// while appends go on. Every append acknowledged before the copy is in it; an append being written may
    /// be torn, and is cut.
    @Test func aCopyTakenWhileAppendingReopensWithEveryAcknowledgedRecord() async throws {
        let directory = try TemporaryDirectory()
        let log = try SpoolLog.open(configuration(directory))
        let acknowledged = Acknowledged()
        let copy = try TemporaryDirectory()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for n in stride(from: worker, to: 800, by: 8) where !acknowledged.copied.withLock({ $0 }) {
                        let batch = sampleBatch(n, bodyBytes: 300)
                        _ = try await log.append(batch)
                        acknowledged.times.withLock { _ = $0.insert(batch.acceptedAtMilliseconds) }
                    }
                }
            }
            group.addTask {
                while acknowledged.times.withLock({ $0.count }) < 40 { try await Task.sleep(for: .milliseconds(1)) }
                let before = acknowledged.times.withLock { $0 }
                for name in try names(directory.path) where name.hasSuffix(".log") {
                    try writeFile(copy.file(name), try fileBytes(directory.file(name)))
                }
                acknowledged.copied.withLock { $0 = true }
                let reopened = try SpoolLog.open(configuration(copy))
                // Everything in the copy (more than `before`: appends written but not yet answered, too).
                let found = await take(reopened, 1000, timeout: .milliseconds(300)).map(\.batch.acceptedAtMilliseconds)
                #expect(before.isSubset(of: Set(found)))
                await reopened.close()
            }
            try await group.waitForAll()
        }
        await log.close()
    }
}

/// The acknowledgement times of the appends that returned, shared by the appending tasks.
private final class Acknowledged: Sendable {
    let times = Mutex<Set<Int64>>([])
    /// The copy is taken: the appending tasks stop.
    let copied = Mutex(false)
}
