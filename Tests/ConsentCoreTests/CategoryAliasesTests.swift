import ConsentCore
import Foundation
import SegmentWire
import Testing

/// `store.category_aliases`: the store's ids renamed to the stamps' names before the cache.
@Suite struct CategoryAliasesTests {
    private func prefs(_ pairs: KeyValuePairs<String, Bool>) -> [CategoryPreference] {
        pairs.map { CategoryPreference(category: $0.key, granted: $0.value) }
    }

    @Test func renamesAliasedIdsAndKeepsTheOthers() {
        let aliases = CategoryAliases(["C0002": "Analytics", "C0004": "Advertising"])
        #expect(
            aliases.apply(prefs(["C0002": true, "C0004": false, "Functional": true]))
                == prefs(["Advertising": false, "Analytics": true, "Functional": true]))
    }

    @Test(arguments: [(true, true, true), (true, false, false), (false, true, false), (false, false, false)])
    func twoIdsWithOneNameCombineWithAnd(first: Bool, second: Bool, expected: Bool) {
        let aliases = CategoryAliases(["C0002": "Analytics", "C0003": "Analytics"])
        #expect(aliases.apply(prefs(["C0002": first, "C0003": second])) == prefs(["Analytics": expected]))
    }

    @Test func anAliasOntoAnIdTheRecordAlsoHoldsCombinesWithAndToo() {
        let aliases = CategoryAliases(["C0002": "Analytics"])
        #expect(aliases.apply(prefs(["C0002": true, "Analytics": false])) == prefs(["Analytics": false]))
    }

    @Test func noAliasesLeavesRecordsAlone() {
        let record = ConsentRecord(subject: "s", preferences: prefs(["C0002": true]), version: 3, updatedAt: Date(timeIntervalSince1970: 5))
        #expect(CategoryAliases.none.apply(record) == record)
    }

    @Test func theAliasedStoreAnswersUnderTheStampsNamesKeepingVersionAndTime() async throws {
        let stored = ConsentRecord(
            subject: "user-1", preferences: prefs(["C0002": true, "C0004": false]), version: 7, updatedAt: Date(timeIntervalSince1970: 9))
        let store = AliasedConsentStore(base: FakeStore([stored]), aliases: CategoryAliases(["C0002": "Analytics", "C0004": "Advertising"]))
        let record = try #require(try await store.lookup(subject: "user-1"))
        #expect(record.preferences == prefs(["Advertising": false, "Analytics": true]))
        #expect(record.version == 7 && record.updatedAt == stored.updatedAt && record.subject == "user-1")
        #expect(try await store.lookup(subject: "nobody") == nil)
        #expect(store.kind == "fake")
    }
}
