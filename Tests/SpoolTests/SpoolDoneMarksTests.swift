import Testing

@testable import Spool

@Suite struct SpoolDoneMarksTests {
    @Test func roundTrip() {
        let offsets: [UInt64] = [8, 4096, 1 << 40]
        let bytes = SpoolDoneMarks.encode(offsets)
        #expect(bytes.count == 3 * SpoolDoneMarks.entryBytes)
        let decoded = bytes.withUnsafeBytes { SpoolDoneMarks.decode($0) }
        #expect(decoded.offsets == offsets)
        #expect(decoded.validCount == bytes.count)
    }

    @Test func readingStopsAtATornOrDamagedEntry() {
        let bytes = SpoolDoneMarks.encode([8, 100, 200])
        let torn = Array(bytes.dropLast(3))
        #expect(torn.withUnsafeBytes { SpoolDoneMarks.decode($0) }.offsets == [8, 100])
        var damaged = bytes
        damaged[13] ^= 0x10
        let decoded = damaged.withUnsafeBytes { SpoolDoneMarks.decode($0) }
        #expect(decoded.offsets == [8])
        #expect(decoded.validCount == SpoolDoneMarks.entryBytes)
    }
}
