import ConsentCore
import SegmentWire
import Testing

/// ``CategoryIDs``: categories as bits, so that a stamp and a truth compare as two integers.
@Suite struct CategoryIDsTests {
    @Test func truthsInternTheirGrantedCategoriesAndStampsOnlyReadBits() {
        var ids = CategoryIDs()
        let truthMask = ids.internGrantMask(stamp(["Analytics": true, "Advertising": false, "Functional": true]))
        let analytics = try! #require(ids.bit(of: "Analytics"))
        let functional = try! #require(ids.bit(of: "Functional"))
        #expect(truthMask == (1 << analytics) | (1 << functional))
        // A denied category needs no bit.
        #expect(ids.bit(of: "Advertising") == nil)

        // A stamp granting the same categories has the same mask, whatever it lists as denied.
        #expect(ids.grantMask(stamp(["Functional": true, "Advertising": false, "Analytics": true])) == truthMask)
        #expect(ids.grantMask(stamp(["Functional": true, "Analytics": true, "Unheard": false])) == truthMask)
        // A stamp granting a category without a bit grants what no masked truth grants; it gets no bit.
        #expect(ids.grantMask(stamp(["Analytics": true, "Unheard": true])) == nil)
        #expect(ids.bit(of: "Unheard") == nil)
        // Ids are case-sensitive.
        #expect(ids.grantMask(stamp(["analytics": true])) == nil)
    }

    @Test func aRepeatedCategoryCountsWithItsLastValue() {
        var ids = CategoryIDs()
        _ = ids.internGrantMask(stamp(["Analytics": true]))
        let analytics = try! #require(ids.bit(of: "Analytics"))
        #expect(ids.grantMask(stamp(["Analytics": true, "Analytics": false])) == 0)
        #expect(ids.grantMask(stamp(["Analytics": false, "Analytics": true])) == 1 << analytics)
        #expect(ids.internGrantMask(stamp(["Analytics": true, "Analytics": false])) == 0)
    }

    @Test func atMostSixtyFourCategoriesGetABit() {
        var ids = CategoryIDs()
        for n in 0..<CategoryIDs.capacity { #expect(ids.intern("c\(n)") == UInt8(n)) }
        #expect(ids.intern("one-too-many") == nil)
        #expect(ids.intern("c7") == 7)  // the ones given keep theirs
        #expect(ids.internGrantMask(stamp(["c1": true, "one-too-many": true])) == nil)
        #expect(ids.internGrantMask(stamp(["c1": true, "one-too-many": false])) == 1 << 1)
    }
}
