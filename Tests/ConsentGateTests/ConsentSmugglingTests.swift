import Foundation
import HTTPTypes
import Testing

/// Consent smuggling, tried through the real binary: events written so that another plausible receiver
/// (``ReceiverReading``: Go's case-folding keys, first or last of two equal keys, ids through a float,
/// the batch's context merged either way) would read another subject or another stamp than consentgate.
/// Whatever reaches Segment must read the same under every reading, and grant nothing the subject's
/// truth denies (equal to the truth under `compare: exact`).
@Suite(.serialized, .timeLimit(.minutes(5)))
struct ConsentSmugglingTests {
    /// The truths in the store. Every known subject denies Advertising except bob.
    static let truths: [String: [String: Bool]] = [
        "alice": ["Advertising": false, "Analytics": true],
        "bob": ["Advertising": true, "Analytics": true],
        "100": ["Advertising": false, "Analytics": true],
        "9007199254740992": ["Advertising": false, "Analytics": true],
    ]

    /// How an event names its subject: the members written, and what consentgate's reading should say.
    static let idForms: [(name: String, members: String)] = [
        ("plain", #""userId":"alice""#),
        ("plain-bob", #""userId":"bob""#),
        ("unknown", #""userId":"nobody-1""#),
        ("anonymous", #""anonymousId":"alice""#),
        ("escaped", #""user\u0049d":"alice""#),
        ("folded-alone", #""anonymousId":"nobody-2","USERID":"alice""#),
        ("folded-duplicate", #""userId":"nobody-3","userid":"alice""#),
        ("long-s", #""anonymousId":"nobody-4","u\#u{17F}erId":"alice""#),
        ("escaped-duplicate", #""userId":"nobody-5","user\u0049d":"bob""#),
        ("exact-duplicate", #""userId":"alice","userId":"nobody-6""#),
        ("number-plain", #""userId":100"#),
        ("number-exponent", #""userId":1e2"#),
        ("number-fraction", #""userId":100.0"#),
        ("number-past-2^53", #""userId":9007199254740993"#),
        ("number-negative-zero", #""anonymousId":"alice","userId":-0"#),
    ]

    static let ownStamps: [(name: String, context: String?)] = [
        ("none", nil),
        ("denies-ads", #"{"consent":{"categoryPreferences":{"Advertising":false,"Analytics":true}}}"#),
        ("grants-ads", #"{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}}"#),
        ("folded-category", #"{"consent":{"categoryPreferences":{"Advertising":false,"advertising":true,"Analytics":true}}}"#),
        ("folded-consent", #"{"consent":{"categoryPreferences":{"Advertising":false,"Analytics":true}},"Consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}}"#),
        ("folded-preferences", #"{"consent":{"categoryPreferences":{"Advertising":false,"Analytics":true},"categorypreferences":{"Advertising":true}}}"#),
    ]

    static let eventNames = [#""Song Played""#, #""Segment Consent Preference Updated""#, #""Segment Consent Preference Update\u0064""#]

    static let batchStamps: [String?] = [
        nil,
        #"{"consent":{"categoryPreferences":{"Advertising":false,"Analytics":true}}}"#,
        #"{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}}"#,
    ]

    /// Every combination of subject form, own stamp and event name: one batch of about 270 events.
    static func events() -> [String] {
        var events: [String] = []
        for form in idForms {
            for stamp in ownStamps {
                for name in eventNames {
                    var members = [#""type":"track""#, #""event":\#(name)"#, #""messageId":"\#(form.name)/\#(stamp.name)/\#(events.count)""#, form.members]
                    if let context = stamp.context { members.append(#""context":\#(context)"#) }
                    events.append("{" + members.joined(separator: ",") + "}")
                }
            }
        }
        // A Type that folds onto type, naming another type.
        events.append(#"{"Type":"identify","type":"track","event":"e","userId":"alice","context":\#(ownStamps[2].context!)}"#)
        return events
    }

    /// What every reading makes of what Segment received; one line per violation.
    static func violations(_ received: [SegmentSink.Received], exact: Bool) -> [String] {
        var found: [String] = []
        for request in received {
            guard let document = RawJSON.parse(request.json) else {
                found.append("forwarded a body that is not JSON")
                continue
            }
            for reading in ReceiverReading.all {
                let batch = reading.member("batch", of: document)
                let context = batch == nil ? nil : reading.member("context", of: document)
                let events: [RawJSON] = if case .array(let items)? = batch { items } else { [document] }
                for event in events {
                    check(event, context: context, reading: reading, exact: exact, into: &found)
                }
            }
        }
        return found
    }

    private static func check(_ event: RawJSON, context: RawJSON?, reading: ReceiverReading, exact: Bool, into found: inout [String]) {
        let label = { () -> String in
            if case .string(let id)? = ReceiverReading(keys: .exactLast, numbers: .text, merge: .eventWins).member("messageId", of: event) { id }
            else { "?" }
        }
        let subject = reading.subject(of: event)
        let consentgate = ReceiverReading(keys: .exactLast, numbers: .text, merge: .eventWins).subject(of: event)
        if subject.userId != consentgate.userId || subject.anonymousId != consentgate.anonymousId {
            found.append("\(label()): \(reading) reads another subject than consentgate")
        }
        guard let truth = subject.userId.flatMap({ truths[$0] }) ?? subject.anonymousId.flatMap({ truths[$0] }) else { return }
        guard let stamp = reading.stamp(of: event, batchContext: context) else {
            found.append("\(label()): \(reading) finds no stamp for a known subject")
            return
        }
        let granted = Dictionary(truth.map { (reading.keys == .goFold ? ReceiverReading.fold($0.key) : $0.key, $0.value) }) { a, _ in a }
        for (category, grants) in stamp where grants && granted[category] != true {
            found.append("\(label()): \(reading) over-grants \(category)")
        }
        let name = reading.member("event", of: event)
        let isPreferenceUpdate = if case .string("Segment Consent Preference Updated")? = name { true } else { false }
        if exact && !isPreferenceUpdate {
            for (category, grants) in granted where grants && stamp[category] != true {
                found.append("\(label()): \(reading) under-grants \(category)")
            }
        }
    }

    /// The real binary with one policy and the truths in its store.
    static func gateway(policy: String, sink: SegmentSink) async throws -> GatewayProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smuggling-\(UUID().uuidString)").path
        let gateway = try GatewayProcess(
            yaml: """
                ingress: {host: 127.0.0.1, port: 0}
                upstream: {url: "\(sink.url)", ca_file: "\(TestCertificates.files.ca)", timeout_seconds: 15}
                admin: {host: 127.0.0.1, port: 0, token: smuggling-token}
                store: {kind: sqlite, sqlite: {path: "\(directory)/consent.sqlite"}}
                audit: {path: "\(directory)/audit.jsonl", hmac_key: k}
                policy: \(policy)
                log: {level: info, format: json}
                """,
            directory: directory)
        try await gateway.waitUntilListening()
        let client = HarnessClient.shared
        for (subject, grants) in truths {
            let body = "{\"categoryPreferences\":{" + grants.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}}"
            let reply = try await client.send(
                gateway.admin + "/consent/subjects/" + subject, method: "PUT", body: body,
                headers: ["Authorization": "Bearer smuggling-token"])
            #expect(reply.status == 200)
        }
        return gateway
    }

    static let policies: [(policy: String, exact: Bool)] = [
        ("{on_missing_stamp: restamp}", true),
        ("{on_missing_stamp: restamp, on_unknown_subject: forward}", true),
        ("{on_mismatch: restamp, on_missing_stamp: restamp}", true),
        ("{compare: no_overgrant, on_mismatch: restamp, on_missing_stamp: drop, on_unknown_subject: forward}", false),
    ]

    /// The differential test: every combination, with each batch-level stamp, under each policy.
    @Test(arguments: 0..<4)
    func nothingForwardedReadsDifferentlyOrOvergrants(_ index: Int) async throws {
        let (policy, exact) = Self.policies[index]
        let sink = try await SegmentSink.start()
        let gateway = try await Self.gateway(policy: policy, sink: sink)
        defer { try? FileManager.default.removeItem(atPath: gateway.directory) }
        let client = HarnessClient.shared
        for stamp in Self.batchStamps {
            let context = stamp.map { #","context":\#($0)"# } ?? ""
            let body = #"{"batch":[\#(Self.events().joined(separator: ","))]\#(context)}"#
            let reply = try await client.send(gateway.ingress + "/v1/batch", method: "POST", body: body)
            #expect(reply.status == 200, "\(reply.body)")
            // Every event, one at a time on its route, too: the single-event body is its own envelope.
            if stamp == nil {
                for event in Self.events() {
                    let single = try await client.send(gateway.ingress + "/v1/track", method: "POST", body: event)
                    #expect(single.status == 200 || single.status == 400)
                }
            }
        }
        let received = sink.received
        let problems = Self.violations(received, exact: exact)
        #expect(problems.isEmpty, "\(problems.count) violations under \(policy), e.g. \(problems.prefix(5))")
        // The plain, consistent events do get through: the test is not passing by forwarding nothing.
        let forwarded = Set(received.flatMap(\.messageIds))
        #expect(forwarded.contains { $0.hasPrefix("plain/denies-ads/") })
        for ambiguous in ["folded-alone", "folded-duplicate", "long-s", "exact-duplicate", "escaped-duplicate", "number-exponent", "number-fraction",
                          "number-past-2^53", "number-negative-zero"] {
            #expect(!forwarded.contains { $0.hasPrefix(ambiguous + "/") }, "\(ambiguous) was forwarded")
        }
        #expect(!forwarded.contains { $0.contains("/folded-") }, "an event with a folded stamp key was forwarded")
        _ = await gateway.stop()
        await sink.stop()
    }

    /// Without the checks, the same requests do smuggle: the readings find what they are meant to find.
    @Test func theReadingsSeeTheSmuggledReadings() throws {
        let event = RawJSON.parse(Array(#"{"userId":"nobody","USERID":"alice","context":{"consent":{"categoryPreferences":{"Advertising":true}}}}"#.utf8))!
        let received = SegmentSink.Received(path: "/v1/track", headers: [:], body: Array(#"{"batch":[{"userId":1e2,"context":{"consent":{"categoryPreferences":{"Advertising":true}}}}]}"#.utf8))
        #expect(!Self.violations([received], exact: true).isEmpty, "1e2 is 100 through a float, whose truth denies Advertising")
        let go = ReceiverReading(keys: .goFold, numbers: .text, merge: .eventWins)
        #expect(go.subject(of: event).userId == "alice")
        let shared = SegmentSink.Received(
            path: "/v1/batch", headers: [:],
            body: Array(#"{"context":{"consent":{"categoryPreferences":{"Advertising":true}}},"batch":[{"userId":"alice","context":{"consent":{"categoryPreferences":{"Advertising":false,"Analytics":true}}}}]}"#.utf8))
        #expect(Self.violations([shared], exact: true).contains { $0.contains("batchWins") && $0.contains("over-grants Advertising") })
    }

    /// A body whose `type` names another type than its route is refused, not read either way.
    @Test func aBodyTypeAgainstItsRouteIsA400() async throws {
        let sink = try await SegmentSink.start()
        let gateway = try await Self.gateway(policy: "{on_missing_stamp: restamp}", sink: sink)
        defer { try? FileManager.default.removeItem(atPath: gateway.directory) }
        let reply = try await HarnessClient.shared.send(
            gateway.ingress + "/v1/identify", method: "POST",
            body: #"{"type":"track","event":"e","userId":"alice","context":\#(Self.ownStamps[1].context!)}"#)
        #expect(reply.status == 400)
        #expect(reply.body.contains(#""code":"invalid_event""#) && reply.body.contains("type_mismatch"))
        #expect(sink.received.isEmpty)
        _ = await gateway.stop()
        await sink.stop()
    }

    /// Under restamp, a batch whose shared stamp over-grants for one event leaves without it: each event
    /// carries its own truth or its own verified copy.
    @Test func restampTakesTheSharedStampOut() async throws {
        let sink = try await SegmentSink.start()
        let gateway = try await Self.gateway(policy: "{on_mismatch: restamp, on_missing_stamp: restamp}", sink: sink)
        defer { try? FileManager.default.removeItem(atPath: gateway.directory) }
        let body = #"{"context":{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}},"batch":["#
            + #"{"type":"track","event":"e","messageId":"a","userId":"alice","context":\#(Self.ownStamps[1].context!)},"#
            + #"{"type":"track","event":"e","messageId":"b","userId":"bob"}]}"#
        #expect(try await HarnessClient.shared.send(gateway.ingress + "/v1/batch", method: "POST", body: body).status == 200)
        let received = try #require(sink.received.first)
        let text = String(decoding: received.json, as: UTF8.self)
        #expect(!text.contains(#""categoryPreferences":{"Advertising":true,"Analytics":true}},"batch""#))
        #expect(received.messageIds == ["a", "b"])
        #expect(Self.violations(sink.received, exact: true).isEmpty)
        _ = await gateway.stop()
        await sink.stop()
    }
}
