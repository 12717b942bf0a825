import Foundation
import Testing

@testable import Spool

/// Finished segments are renamed into spares and become the next segments (`SpoolWriter`): what a recycled
/// file held in its earlier life must never come back as a record, after a clean close or a crash.
@Suite struct SpoolRecyclingTests {
    /// Small segments of four records each.
    private func recyclingLog(_ directory: borrowing TemporaryDirectory) throws -> SpoolLog {
        let frame = SpoolFrame.encode(sampleBatch(0)).count
        return try SpoolLog.open(configuration(directory) { $0.segmentBytes = Int64(8 + 4 * frame) })
    }

    /// Delivers the first `count` batches (`sampleBatch(0..<count)`), so that their segments are finished.
    private func deliverAll(_ log: SpoolLog, count: Int) async throws {
        _ = try await appendAll(log, (0..<count).map { sampleBatch($0) })
        for record in await take(log, count) { log.complete(record.id) }
    }

    /// Live records land in recycled files (the `.log` files are renamed spares, not new ones), read back
    /// intact, and the spares never exceed `maxSpares`.
    @Test func finishedSegmentsBecomeTheNextOnes() async throws {
        let directory = try TemporaryDirectory()
        let log = try recyclingLog(directory)
        try await deliverAll(log, count: 16)
        // Segments 1-3 are finished (4 is active): two kept as spares, the third deleted.
        #expect(try await eventually { try names(directory.path).filter { $0.hasPrefix("spare-") }.count == SpoolWriter.maxSpares })
        let later = (100..<108).map { sampleBatch($0) }
        let ids = try await appendAll(log, later)
        #expect(log.statistics.recycledSegments == 2)
        #expect(Set(ids.map(\.segment)) == [5, 6])
        #expect(await take(log, 8).map(\.batch) == later)
        // Two spares used; segment 4, sealed by the roll to 5, was finished and became one.
        #expect(try await eventually { try names(directory.path).filter { $0.hasPrefix("spare-") }.count == 1 })
        await log.close()
    }

    /// A clean close truncates the recycled active segment after its last record: the next open cuts
    /// nothing, hands out exactly the records not yet delivered, and removes the spares.
    @Test func aCleanCloseLeavesNothingToCut() async throws {
        let directory = try TemporaryDirectory()
        let live = (200..<203).map { sampleBatch($0) }
        do {
            let log = try recyclingLog(directory)
            try await deliverAll(log, count: 16)
            _ = try await eventually { try names(directory.path).contains { $0.hasPrefix("spare-") } }
            _ = try await appendAll(log, live)
            #expect(log.statistics.recycledSegments == 1)
            await log.close()
        }
        #expect(try names(directory.path).filter { $0.hasPrefix("spare-") }.isEmpty)
        let log = try recyclingLog(directory)
        #expect(log.statistics.corruptRecords == 0 && log.statistics.cutBytes == 0)
        #expect(await take(log, 3).map(\.batch) == live)
        #expect(await nothingWaits(log))
        await log.close()
    }

    /// A crash (the files as they are while the log is open) leaves the earlier life's records after the
    /// new ones in the recycled file; none of them comes back, whether or not the new records end where an
    /// old one starts (records of the old size end there; smaller ones end inside an old record).
    @Test(arguments: [(1, 64), (3, 64), (2, 10)])
    func aCrashNeverBringsBackTheEarlierLife(liveCount: Int, bodyBytes: Int) async throws {
        let directory = try TemporaryDirectory()
        let copy = try TemporaryDirectory()
        let log = try recyclingLog(directory)
        try await deliverAll(log, count: 16)
        _ = try await eventually { try names(directory.path).contains { $0.hasPrefix("spare-") } }
        // Same-sized records: the live ones end exactly where an old one begins.
        let live = (300..<(300 + liveCount)).map { sampleBatch($0, bodyBytes: bodyBytes) }
        let ids = try await appendAll(log, live)
        #expect(log.statistics.recycledSegments == 1)
        let active = directory.file(SpoolDirectory.segmentName(ids[0].segment))
        // The delivered records' segments are gone (not merely marked done later): the copy holds the live
        // records and the recycled file's earlier life, nothing that a crash may legitimately deliver again.
        #expect(try await eventually { try names(directory.path).filter { $0.hasSuffix(".log") } == [SpoolDirectory.segmentName(ids[0].segment)] })
        #expect(try fileBytes(active).count > Int(ids.last!.offset) + SpoolFrame.encode(live.last!).count)
        for name in try names(directory.path) where name.hasSuffix(".log") || name.hasSuffix(".done") {
            try writeFile(copy.file(name), try fileBytes(directory.file(name)))
        }
        await log.close()

        let reopened = try recyclingLog(copy)
        #expect(await take(reopened, liveCount).map(\.batch) == live)
        #expect(await nothingWaits(reopened))
        await reopened.close()
    }

    /// Segments written before recycling (format version 1: no key) are still read, and are deleted, not
    /// recycled, once done.
    @Test func aVersionOneSegmentIsStillRead() async throws {
        let directory = try TemporaryDirectory()
        let batches = (0..<3).map { sampleBatch($0) }
        try writeFile(directory.file(SpoolDirectory.segmentName(1)), SpoolFrame.segmentMagicVersion1 + batches.flatMap(SpoolFrame.encode))
        let log = try SpoolLog.open(configuration(directory))
        let handed = await take(log, 3)
        #expect(handed.map(\.batch) == batches)
        #expect(log.statistics.corruptRecords == 0)
        for record in handed { log.complete(record.id) }
        #expect(try await eventually { try names(directory.path).filter { $0.hasSuffix(".log") } == [SpoolDirectory.segmentName(2)] })
        #expect(try names(directory.path).filter { $0.hasPrefix("spare-") }.isEmpty)
        await log.close()
    }
}
