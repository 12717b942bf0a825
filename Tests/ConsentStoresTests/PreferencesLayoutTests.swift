import ConsentCore
import ConsentStores
import Foundation
import SegmentWire
import Testing

/// `store.http.item.key` / `store.http.item.value`: objects and arrays of purposes, read without I/O.
@Suite struct PreferencesLayoutTests {
    private func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    private func prefs(_ pairs: KeyValuePairs<String, Bool>) -> [CategoryPreference] {
        pairs.map { CategoryPreference(category: $0.key, granted: $0.value) }
    }

    private let statuses = try! StatusMapping(granted: ["ACTIVE", "true"], denied: ["OPT_OUT", "false"])

    @Test func theFlatLayoutIsTodaysObject() throws {
        let reading = try statuses.read(try json(#"{"Analytics":true,"Advertising":"OPT_OUT","Functional":null}"#), layout: .flat)
        #expect(reading.preferences == prefs(["Advertising": false, "Analytics": true, "Functional": false]))
        #expect(try statuses.read(try json(#"{"Analytics":true}"#)) == statuses.read(try json(#"{"Analytics":true}"#), layout: .flat))
    }

    @Test func anObjectOfStateObjectsReadsTheValuePointerInEachMember() throws {
        let layout = PreferencesLayout(itemKey: nil, itemValue: try JSONPointer("/allowed"))
        let reading = try statuses.read(
            try json(#"{"analytics":{"allowed":"true","legalBasisCode":"consent_optin"},"advertising":{"allowed":"false"},"x":{}}"#),
            layout: layout)
        #expect(reading.preferences == prefs(["advertising": false, "analytics": true, "x": false]))
    }

    @Test func anArrayOfItemsReadsTheKeyAndValuePointers() throws {
        let layout = PreferencesLayout(itemKey: try JSONPointer("/id"), itemValue: try JSONPointer("/status"))
        let reading = try statuses.read(
            try json(#"[{"id":"C0002","status":"ACTIVE"},{"id":"C0004","status":"OPT_OUT"},{"id":"C0005","status":"SURPRISE"}]"#),
            layout: layout)
        #expect(reading.preferences == prefs(["C0002": true, "C0004": false, "C0005": false]))
        #expect(reading.unmappedStatuses == ["SURPRISE"], "an unknown status is denied and reported")
    }

    @Test func aCategoryNamedTwiceInAnArrayIsGrantedOnlyIfEveryMentionGrants() throws {
        let layout = PreferencesLayout(itemKey: try JSONPointer("/id"), itemValue: try JSONPointer("/enabled"))
        let reading = try statuses.read(try json(#"[{"id":"a","enabled":true},{"id":"a","enabled":false},{"id":"b","enabled":true}]"#), layout: layout)
        #expect(reading.preferences == prefs(["a": false, "b": true]))
    }

    @Test func unreadableShapesAreErrorsThatQuoteNoValue() throws {
        let layout = PreferencesLayout(itemKey: try JSONPointer("/id"), itemValue: try JSONPointer("/enabled"))
        #expect(throws: StatusMapping.ReadError.self) { try statuses.read(try json(#"[{"enabled":true}]"#), layout: layout) }
        #expect(throws: StatusMapping.ReadError.self) { try statuses.read(try json(#"[{"id":7,"enabled":true}]"#), layout: layout) }
        #expect(throws: StatusMapping.ReadError.self) { try statuses.read(try json(#"[{"id":"a","enabled":5}]"#), layout: layout) }
        #expect(throws: StatusMapping.ReadError.self) { try statuses.read(try json(#""secret-value""#), layout: layout) }
        let array = try json(#"[{"id":"a"}]"#)
        do throws(StatusMapping.ReadError) {
            _ = try statuses.read(array, layout: .flat)
            Issue.record("an array needs item.key")
        } catch {
            #expect(error.reason.contains("store.http.item.key"))
        }
    }
}
