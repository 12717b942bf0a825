import Foundation
import Testing

@testable import Spool

@Suite struct SpoolDeadLetterTests {
    @Test func fileRoundTrip() throws {
        let letter = SpoolDeadLetter(
            name: "1-1-8.dead", batch: sampleBatch(1), status: 400, responseBody: Array(#"{"success":false}"#.utf8),
            reason: "rejected", deadAtMilliseconds: 1_700_000_000_123)
        let bytes = letter.encode()
        #expect(try SpoolDeadLetter.decode(bytes, name: letter.name) == letter)
        var noAnswer = letter
        noAnswer.status = nil
        noAnswer.responseBody = []
        #expect(try SpoolDeadLetter.decode(noAnswer.encode(), name: letter.name) == noAnswer)
        var damaged = bytes
        damaged[damaged.count - 3] ^= 0x04
        #expect(throws: SpoolError.self) { try SpoolDeadLetter.decode(damaged, name: letter.name) }
        #expect(throws: SpoolError.self) { try SpoolDeadLetter.decode(Array(bytes.dropLast()), name: letter.name) }
    }

    @Test func deadLetterThenRequeue() async throws {
        let directory = try TemporaryDirectory()
        let deadLetters = directory.file("dead-letters")
        do {
            let log = try SpoolLog.open(configuration(directory))
            _ = try await appendAll(log, [sampleBatch(1), sampleBatch(2)])
            let handed = await take(log, 2)
            try log.deadLetter(
                handed[0].id, handed[0].batch, status: 400, responseBody: Array("bad".utf8), reason: "rejected by Segment")
            log.complete(handed[1].id)
            #expect(log.status.batches == 0)
            #expect(log.status.deadLetters == 1)
            #expect(log.status.deadLetterBytes == Int64(try fileBytes(deadLetters + "/" + names(deadLetters)[0]).count))
            await log.close()
        }
        let listed = try SpoolLog.deadLetters(directory: directory.path)
        #expect(listed.count == 1)
        #expect(listed.first?.batch == sampleBatch(1))
        #expect(listed.first?.status == 400)
        #expect(listed.first?.responseBody == Array("bad".utf8))
        #expect(listed.first?.reason == "rejected by Segment")
        #expect(try SpoolLog.inspect(directory: directory.path).deadLetters == 1)

        let log = try SpoolLog.open(configuration(directory))
        #expect(log.status.deadLetters == 1)
        #expect(await nothingWaits(log))  // a dead letter is not delivered again by itself
        #expect(try await log.requeueDeadLetters() == 1)
        #expect(try names(deadLetters).isEmpty)
        #expect(log.status.deadLetters == 0)
        #expect(log.status.deadLetterBytes == 0)
        #expect(await take(log, 1).map(\.batch) == [sampleBatch(1)])
        #expect(try await log.requeueDeadLetters() == 0)
        await log.close()
    }

    /// Requeued in groups that share commits, in the order they were dead-lettered.
    @Test func manyRequeueInOrder() async throws {
        let directory = try TemporaryDirectory()
        let log = try SpoolLog.open(configuration(directory))
        let batches = (0..<40).map { sampleBatch($0) }
        _ = try await appendAll(log, batches)
        for record in await take(log, 40) {
            try log.deadLetter(record.id, record.batch, status: nil, responseBody: [], reason: "retries exhausted")
        }
        let before = log.statistics.commits
        #expect(try await log.requeueDeadLetters() == 40)
        #expect(log.statistics.commits - before < 20)
        #expect(Set(await take(log, 40).map(\.batch.acceptedAtMilliseconds)) == Set(batches.map(\.acceptedAtMilliseconds)))
        await log.close()
    }
}
