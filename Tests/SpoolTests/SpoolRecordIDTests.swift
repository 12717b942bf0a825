import Testing

@testable import Spool

@Suite struct SpoolRecordIDTests {
    @Test func idsOrderAsTheLog() {
        #expect(SpoolRecordID(segment: 1, offset: 900) < SpoolRecordID(segment: 2, offset: 8))
        #expect(SpoolRecordID(segment: 2, offset: 8) < SpoolRecordID(segment: 2, offset: 9))
        #expect(SpoolRecordID(segment: 3, offset: 16).description == "3:16")
    }
}
