import SegmentWire
import Testing

@testable import ClientAddress

@Suite struct AddressPolicyTests {
    static let client = IPAddress("203.0.113.77")!

    static func event(library: String? = nil, context: String? = nil) -> String {
        var members: [String] = []
        if let library { members.append(#""library":{"name":"\#(library)"}"#) }
        if let context { members.append(context) }
        return #"{"type":"track","userId":"u","event":"E","context":{"# + members.joined(separator: ",") + "}}"
    }

    static func plan(_ policy: AddressPolicy, batch events: [String], envelope: String = "", client: IPAddress? = client) throws -> AddressPlan? {
        let json = "{" + envelope + #""batch":["# + events.joined(separator: ",") + "]}"
        let bytes = Array(json.utf8)
        let request = try BatchScanner().scan(bytes.withUnsafeBytes { $0 }, route: .batch)
        let leaving = client.flatMap(policy.forwarded)?.description
        return bytes.withUnsafeBytes { policy.plan(request, body: $0, leaving: leaving) }
    }

    @Test func fillsClientLibrariesOnlyByDefault() throws {
        let events = [
            Self.event(library: "analytics.js"), Self.event(library: "analytics-python"), Self.event(library: "analytics-ios"),
            Self.event(), Self.event(library: "Analytics.JS"),
        ]
        let plan = try #require(try Self.plan(AddressPolicy(), batch: events))
        #expect(plan.events == [.set("203.0.113.77"), .keep, .set("203.0.113.77"), .keep, .keep])
        #expect(plan.envelope == .keep && plan.unsafe.isEmpty)
    }

    @Test func serverSideTrafficNeedsNoPlan() throws {
        let events = [Self.event(library: "analytics-python"), Self.event(library: "@segment/analytics-node"), Self.event()]
        #expect(try Self.plan(AddressPolicy(), batch: events) == nil)
        #expect(try Self.plan(AddressPolicy(fill: .off), batch: [Self.event(library: "analytics.js")]) == nil)
        // No client address known: nothing to fill.
        #expect(try Self.plan(AddressPolicy(), batch: [Self.event(library: "analytics.js")], client: nil) == nil)
    }

    @Test func aBatchsLibraryNameCountsForItsEvents() throws {
        let plan = try Self.plan(AddressPolicy(), batch: [Self.event()], envelope: #""context":{"library":{"name":"analytics-android"}},"#)
        #expect(plan?.events == [.set("203.0.113.77")])
    }

    @Test func anAddressAlreadyThereIsNotReplaced() throws {
        #expect(try Self.plan(AddressPolicy(fill: .all), batch: [Self.event(library: "analytics.js", context: #""ip":"8.8.8.8""#)]) == nil)
        // The batch's top-level address is every event's (Segment merges it).
        #expect(try Self.plan(AddressPolicy(fill: .all), batch: [Self.event()], envelope: #""context":{"ip":"8.8.8.8"},"#) == nil)
    }

    @Test func fillAllFillsEveryEvent() throws {
        let plan = try Self.plan(AddressPolicy(fill: .all), batch: [Self.event(library: "analytics-python"), Self.event()])
        #expect(plan?.events == [.set("203.0.113.77"), .set("203.0.113.77")])
    }

    @Test func truncateAppliesToFilledAndSentAddresses() throws {
        let policy = AddressPolicy(fill: .clientLibraries, privacy: .truncate)
        let events = [
            Self.event(library: "analytics.js"), Self.event(context: #""ip":"198.51.100.9""#), Self.event(context: #""ip":"2001:db8:1:2::9""#),
            Self.event(context: #""ip":"198.51.100.0""#), Self.event(context: #""ip":"not an address""#), Self.event(context: #""ip":42"#),
        ]
        let plan = try #require(try Self.plan(policy, batch: events, envelope: #""context":{"ip":"192.0.2.200"},"#))
        // With a top-level address no event is filled; each event's own is truncated.
        #expect(plan.events == [.keep, .set("198.51.100.0"), .set("2001:db8:1::"), .keep, .remove, .remove])
        #expect(plan.envelope == .set("192.0.2.0"))
        let filled = try Self.plan(policy, batch: [Self.event(library: "analytics.js")])
        #expect(filled?.events == [.set("203.0.113.0")])
    }

    @Test func dropRemovesEveryAddressAndFillsNone() throws {
        let policy = AddressPolicy(fill: .all, privacy: .drop)
        let plan = try #require(try Self.plan(policy, batch: [Self.event(), Self.event(context: #""ip":"1.2.3.4""#)], envelope: #""context":{"ip":"5.6.7.8"},"#))
        #expect(plan.events == [.keep, .remove])
        #expect(plan.envelope == .remove)
        #expect(policy.forwarded(Self.client) == nil)
    }

    @Test func anAmbiguousAddressIsUnsafeUnderTruncateOrDrop() throws {
        let ambiguous = Self.event(context: #""ip":"1.2.3.4","IP":"5.6.7.8""#)
        #expect(try Self.plan(AddressPolicy(privacy: .truncate), batch: [Self.event(), ambiguous])?.unsafe == [1])
        #expect(try Self.plan(AddressPolicy(privacy: .drop), batch: [ambiguous])?.unsafe == [0])
        // Its first spelling already truncated (no edit of its own): the other still makes it unsafe.
        let truncatedFirst = Self.event(context: #""ip":"1.2.3.0","IP":"5.6.7.8""#)
        #expect(try Self.plan(AddressPolicy(privacy: .truncate), batch: [truncatedFirst])?.unsafe == [0])
        #expect(try Self.plan(AddressPolicy(), batch: [ambiguous]) == nil)
        // An ambiguous top-level address reaches every event.
        #expect(try Self.plan(AddressPolicy(privacy: .drop), batch: [Self.event(), Self.event()], envelope: #""context":{"ip":"1.1.1.1","ip":"2.2.2.2"},"#)?.unsafe == [0, 1])
    }
}
