import Foundation
import Testing
import WireTestSupport

@testable import ConsentGate

/// ``SettingsRewrite``: analytics.js's settings document pointed at consentgate, device-mode destinations
/// removed under `block`, and every other byte passed through — on documents of each shape of
/// reference §7.1 and on documents missing each field. No sockets.
@Suite struct SettingsRewriteTests {
    static let block = SettingsRewrite.Options(apiHost: "t.example.com/v1", apiProtocol: "https")
    static let allow = SettingsRewrite.Options(apiHost: "t.example.com/v1", apiProtocol: "https", blocksDeviceMode: false)

    /// A document with every shape: a device-mode destination by `type` (Google Analytics) and by
    /// `componentTypes` (Hotjar), an unbundled one (Mixpanel), a cloud-mode one (Amplitude), an action
    /// destination (Amplitude (Actions): its entry has no browser component, its device-mode part is a
    /// remote plugin) and a second remote plugin; numbers, escapes and non-ASCII text that Foundation
    /// would rewrite.
    static let document = #"""
        {"integrations":{"Segment.io":{"apiKey":"KEY","apiHost":"api.segment.io/v1","protocol":"https","unbundledIntegrations":["Mixpanel"],"addBundledMetadata":true},\#
        "Google Analytics":{"type":"browser","version":"2.18.4","trackingId":"UA-1"},\#
        "Hotjar":{"versionSettings":{"version":"1.0.0","componentTypes":["browser"]},"siteId":"1"},\#
        "Mixpanel":{"type":"browser","bundlingStatus":"unbundled","token":"t"},\#
        "Amplitude":{"type":"server","versionSettings":{"componentTypes":["server"]}},\#
        "Amplitude (Actions)":{"versionSettings":{"componentTypes":[]},"apiKey":"a"}},\#
        "plan":{"track":{"__default":{"enabled":true,"integrations":{}}}},"edgeFunction":{},"analyticsNextEnabled":true,\#
        "metrics":{"sampleRate":0.1,"host":"api.segment.io/v1","flushTimer":30000,"maxQueueSize":20},"legacyVideoPluginsEnabled":false,\#
        "remotePlugins":[{"name":"Amplitude (Actions) browserPlugins","creationName":"Amplitude (Actions)","libraryName":"amplitude-pluginsDestination","url":"https://cdn.segment.com/next-integrations/actions/amplitude-plugins/ab12.js","settings":{}},\#
        {"name":"Braze Web Mode (Actions)","creationName":"Braze Web Mode (Actions)","libraryName":"brazeDestination","url":"https://cdn.segment.com/next-integrations/actions/braze/cd34.js","settings":{"api_key":"b"}}],\#
        "consentSettings":{"allCategories":["C0001"],"hasUnmappedDestinations":false},"unknownField":[1.0,1e3,-0.0,1E+2,"\u00e9\/é😀\ud83d\ude00"]}
        """#

    static let ga = #","Google Analytics":{"type":"browser","version":"2.18.4","trackingId":"UA-1"}"#
    static let hotjar = #","Hotjar":{"versionSettings":{"version":"1.0.0","componentTypes":["browser"]},"siteId":"1"}"#
    static let plugins = #"""
        [{"name":"Amplitude (Actions) browserPlugins","creationName":"Amplitude (Actions)","libraryName":"amplitude-pluginsDestination","url":"https://cdn.segment.com/next-integrations/actions/amplitude-plugins/ab12.js","settings":{}},\#
        {"name":"Braze Web Mode (Actions)","creationName":"Braze Web Mode (Actions)","libraryName":"brazeDestination","url":"https://cdn.segment.com/next-integrations/actions/braze/cd34.js","settings":{"api_key":"b"}}]
        """#

    private func rewrite(_ text: String, _ options: SettingsRewrite.Options = block) throws -> (text: String, removed: [String]) {
        let result = try SettingsRewrite.rewrite(Array(text.utf8), options: options)
        return (String(decoding: result.bytes, as: UTF8.self), result.removed)
    }

    /// The document with the sender and the metrics host pointed at consentgate (what `allow` gives).
    private static var pointed: String {
        document.replacingOccurrences(of: #""apiHost":"api.segment.io/v1""#, with: #""apiHost":"t.example.com/v1""#)
            .replacingOccurrences(of: #""host":"api.segment.io/v1""#, with: #""host":"t.example.com/v1""#)
    }

    @Test func blockRemovesEveryDestinationAnalyticsJSWouldLoadAndPassesTheRestByteForByte() throws {
        let (text, removed) = try rewrite(Self.document)
        let expected = Self.pointed.replacingOccurrences(of: Self.ga, with: "").replacingOccurrences(of: Self.hotjar, with: "")
            .replacingOccurrences(of: Self.plugins, with: "[]")
        #expect(text == expected)
        #expect(removed == ["Google Analytics", "Hotjar", "Amplitude (Actions) browserPlugins", "Braze Web Mode (Actions)"])
        // What a browser's JSON.parse reads: the sender points at consentgate, and no device-mode entry is left.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let integrations = try #require(parsed["integrations"] as? [String: Any])
        #expect(Set(integrations.keys) == ["Segment.io", "Mixpanel", "Amplitude", "Amplitude (Actions)"])
        let sender = try #require(integrations["Segment.io"] as? [String: Any])
        #expect(sender["apiHost"] as? String == "t.example.com/v1")
        #expect(sender["protocol"] as? String == "https")
        #expect(sender["apiKey"] as? String == "KEY")
    }

    @Test func allowOnlyPointsTheSenderAndTheMetricsAtConsentgate() throws {
        let (text, removed) = try rewrite(Self.document, Self.allow)
        #expect(text == Self.pointed)
        #expect(removed.isEmpty)
    }

    @Test func theProtocolIsSetToo() throws {
        var options = Self.block
        options.apiProtocol = "http"
        let (text, _) = try rewrite(#"{"integrations":{"Segment.io":{"protocol":"https","apiHost":"api.segment.io/v1"}}}"#, options)
        #expect(text == #"{"integrations":{"Segment.io":{"protocol":"http","apiHost":"t.example.com/v1"}}}"#)
    }

    @Test func theAllowListKeepsAnIntegrationByNameAndARemotePluginByNameOrCreationName() throws {
        var options = Self.block
        options.allowed = ["Google Analytics", "Amplitude (Actions)", "Braze Web Mode (Actions)"]
        let (text, removed) = try rewrite(Self.document, options)
        #expect(text == Self.pointed.replacingOccurrences(of: Self.hotjar, with: ""))
        #expect(removed == ["Hotjar"])

        options.allowed = ["Amplitude (Actions) browserPlugins"]
        let (byPluginName, removedByPluginName) = try rewrite(Self.document, options)
        #expect(byPluginName.contains("amplitude-plugins/ab12.js") && !byPluginName.contains("braze/cd34.js"))
        #expect(removedByPluginName == ["Google Analytics", "Hotjar", "Braze Web Mode (Actions)"])
    }

    @Test(arguments: [
        (#"{"type":"browser"}"#, true),
        (#"{"type":"browser","bundlingStatus":"bundled"}"#, true),
        (#"{"type":"browser","bundlingStatus":"unbundled"}"#, false),
        (#"{"versionSettings":{"componentTypes":["ios","browser"]}}"#, true),
        (#"{"versionSettings":{"componentTypes":["browser"]},"bundlingStatus":"unbundled"}"#, false),
        (#"{"versionSettings":{"componentTypes":["server"]},"type":"server"}"#, false),
        (#"{"versionSettings":{"componentTypes":[]}}"#, false),
        (#"{"versionSettings":{"componentTypes":"browser"}}"#, true),  // JS `includes` on a string
        (#"{"type":"brows\u0065r"}"#, true),  // escapes are decoded before comparing
        (#"{"type":"server","type":"browser"}"#, true),  // JSON.parse keeps the last
        (#"{"type":"Browser"}"#, false),
        (#"{}"#, false),
        (#"true"#, false),
        (#"null"#, false),
        (#""browser""#, false),
    ])
    func theDeviceModeRuleIsAnalyticsNexts(entry: String, deviceMode: Bool) throws {
        let document = #"{"integrations":{"Segment.io":{},"X":"# + entry + "}}"
        let (_, removed) = try rewrite(document)
        #expect(removed == (deviceMode ? ["X"] : []), "\(entry)")
    }

    @Test func theSenderIsNeverRemovedAndOtherSegmentEntriesFollowTheRule() throws {
        let (text, removed) = try rewrite(#"{"integrations":{"Segment.io":{"type":"browser"},"Segment Profiles":{"type":"browser"}}}"#)
        #expect(removed == ["Segment Profiles"])
        #expect(text == #"{"integrations":{"Segment.io":{"type":"browser","apiHost":"t.example.com/v1","protocol":"https"}}}"#)
    }

    // MARK: Documents missing a field

    @Test func aDocumentWithoutIntegrationsGetsASender() throws {
        #expect(try rewrite(#"{}"#).text == #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
        #expect(
            try rewrite(#"{"plan":{} }"#).text
                == #"{"plan":{} ,"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
    }

    @Test func integrationsWithoutASenderGetOne() throws {
        #expect(
            try rewrite(#"{"integrations":{"Amplitude":{"type":"server"}}}"#).text
                == #"{"integrations":{"Amplitude":{"type":"server"},"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
        #expect(
            try rewrite(#"{"integrations":{}}"#).text == #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
    }

    @Test func aSenderWithoutApiHostOrProtocolGetsThem() throws {
        #expect(
            try rewrite(#"{"integrations":{"Segment.io":{"apiKey":"K"}}}"#).text
                == #"{"integrations":{"Segment.io":{"apiKey":"K","apiHost":"t.example.com/v1","protocol":"https"}}}"#)
        #expect(
            try rewrite(#"{"integrations":{"Segment.io":{"protocol":"https"}}}"#).text
                == #"{"integrations":{"Segment.io":{"protocol":"https","apiHost":"t.example.com/v1"}}}"#)
        #expect(
            try rewrite(#"{"integrations":{"Segment.io":{ }}}"#).text
                == #"{"integrations":{"Segment.io":{ "apiHost":"t.example.com/v1","protocol":"https"}}}"#)
    }

    @Test func metricsWithoutAHostAndNoMetricsAtAllAreLeftAlone() throws {
        let withoutHost = #"{"integrations":{"Segment.io":{"apiHost":"x","protocol":"https"}},"metrics":{"sampleRate":0.1}}"#
        #expect(try rewrite(withoutHost).text == withoutHost.replacingOccurrences(of: #""x""#, with: #""t.example.com/v1""#))
        let withoutMetrics = #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#
        #expect(try rewrite(withoutMetrics).text == withoutMetrics)
    }

    @Test func aDocumentWithoutRemotePluginsOrWithAnEmptyListIsFine() throws {
        let empty = #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}},"remotePlugins":[]}"#
        #expect(try rewrite(empty).text == empty)
        #expect(try rewrite(empty).removed.isEmpty)
    }

    // MARK: Values of another type

    @Test func integrationsThatAreNotAnObjectAreReplacedByASender() throws {
        #expect(
            try rewrite(#"{"integrations":"x"}"#).text == #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
        #expect(
            try rewrite(#"{"integrations":[{"type":"browser"}]}"#).text
                == #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
        #expect(
            try rewrite(#"{"integrations":{"Segment.io":null}}"#).text
                == #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
    }

    @Test func remotePluginsThatAreNotObjectsAreRemovedAndANonArrayIsLeftAlone() throws {
        let (text, removed) = try rewrite(#"{"integrations":{"Segment.io":{}},"remotePlugins":[5,{"name":"P","url":"u"},null]}"#)
        #expect(text.hasSuffix(#""remotePlugins":[]}"#))
        #expect(removed == ["(unnamed remote plugin)", "P", "(unnamed remote plugin)"])
        let notAnArray = #"{"integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}},"remotePlugins":{"a":1}}"#
        #expect(try rewrite(notAnArray).text == notAnArray)
    }

    @Test func metricsHostThatIsNotAStringIsReplacedAndMetricsThatIsNotAnObjectLeftAlone() throws {
        let sender = #""integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}"#
        #expect(try rewrite("{" + sender + #","metrics":{"host":7}}"#).text == "{" + sender + #","metrics":{"host":"t.example.com/v1"}}"#)
        #expect(try rewrite("{" + sender + #","metrics":[1]}"#).text == "{" + sender + #","metrics":[1]}"#)
    }

    // MARK: Text kept exactly

    @Test func whiteSpaceEscapesAndUnicodeOutsideTheEditsAreKept() throws {
        let pretty = """
            {
              "integrations" : {
                "Segment.io" : { "apiKey" : "K\\u00e9", "apiHost" : "api.segment.io/v1" , "protocol":"https" },
                "Amplitude" : { "type" : "server", "note": "é😀\\ud83d\\ude00\\/\\n" }
              },
              "n": [1.0, 1e3, -0.0, 12345678901234567890],
              "s": "\\u0000\\t\\""
            }

            """
        let (text, removed) = try rewrite(pretty)
        #expect(removed.isEmpty)
        #expect(text == pretty.replacingOccurrences(of: #""api.segment.io/v1""#, with: #""t.example.com/v1""#))
    }

    @Test func aRemovalRebuildsOnlyTheIntegrationsObjectFromItsMembersText() throws {
        let document = #"{ "integrations": { "Segment.io": {"apiHost": "t.example.com/v1", "protocol": "https"}, "GA": {"type": "browser"}, "A": { "type" : "server" } }, "z" : 1.50 }"#
        let (text, removed) = try rewrite(document)
        #expect(removed == ["GA"])
        #expect(text == #"{ "integrations": {"Segment.io": {"apiHost": "t.example.com/v1", "protocol": "https"},"A": { "type" : "server" }}, "z" : 1.50 }"#)
    }

    @Test func aSenderAmongRemovedEntriesIsRewrittenWhereItStands() throws {
        let (text, removed) = try rewrite(#"{"integrations":{"A":{"type":"server"},"GA":{"type":"browser"},"Segment.io":{"apiHost":"x"},"H":{"type":"browser"}}}"#)
        #expect(removed == ["GA", "H"])
        #expect(text == #"{"integrations":{"A":{"type":"server"},"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
    }

    @Test func anEscapedSenderNameAndRepeatedKeysAreRewrittenAsJSONParseReadsThem() throws {
        let (text, _) = try rewrite(#"{"integrations":{"Segment\u002eio":{"apiHost":"a","apiHost":"b"}},"integrations":{"Segment.io":{}}}"#)
        #expect(
            text == #"{"integrations":{"Segment\u002eio":{"apiHost":"t.example.com/v1","apiHost":"t.example.com/v1","protocol":"https"}},"#
                + #""integrations":{"Segment.io":{"apiHost":"t.example.com/v1","protocol":"https"}}}"#)
    }

    // MARK: Against Foundation

    /// Random settings documents (written by Foundation, pretty or not): what a browser's `JSON.parse`
    /// reads of the rewrite is the original with the sender pointed at consentgate, exactly the entries
    /// the rule names removed, no remote plugin left, and every other field equal.
    @Test(arguments: 0..<4)
    func randomDocumentsReadAsTheOriginalMinusTheDeviceModeDestinations(round: Int) throws {
        var rng = SplitMix64(seed: 0x5E77_1265 &+ UInt64(round))
        for _ in 0..<100 {
            var integrations: [String: Any] = [:]
            var deviceMode: Set<String> = []
            for index in 0..<Int.random(in: 0...8, using: &rng) {
                var entry: [String: Any] = ["setting": Double(Int.random(in: 0...1000, using: &rng)) / 8, "note": "é\u{1F600}\"\\/"]
                let type = ["browser", "server", nil].randomElement(using: &rng)!
                let bundling = ["bundled", "unbundled", nil].randomElement(using: &rng)!
                let components = ["browser", "ios", "server"].filter { _ in Bool.random(using: &rng) }
                if let type { entry["type"] = type }
                if let bundling { entry["bundlingStatus"] = bundling }
                if Bool.random(using: &rng) { entry["versionSettings"] = ["version": "1.\(index)", "componentTypes": components] }
                let name = "Destination \(index)"
                integrations[name] = entry
                let loaded = (type == "browser" || (entry["versionSettings"] != nil && components.contains("browser")))
                if bundling != "unbundled", loaded { deviceMode.insert(name) }
            }
            if Bool.random(using: &rng) { integrations["Segment.io"] = ["apiKey": "K", "apiHost": "api.segment.io/v1"] }
            var document: [String: Any] = [
                "integrations": integrations, "plan": ["track": ["__default": ["enabled": true]]], "edgeFunction": [:],
                "remotePlugins": (0..<Int.random(in: 0...3, using: &rng)).map { ["name": "P\($0)", "creationName": "P\($0)", "url": "u"] },
            ]
            if Bool.random(using: &rng) { document["metrics"] = ["sampleRate": 0.1, "host": "api.segment.io/v1"] }
            let options: JSONSerialization.WritingOptions = Bool.random(using: &rng) ? [.prettyPrinted] : []
            let original = try JSONSerialization.data(withJSONObject: document, options: options)

            let result = try SettingsRewrite.rewrite(Array(original), options: Self.block)
            #expect(Set(result.removed) == deviceMode.union((document["remotePlugins"] as! [[String: String]]).map { $0["name"]! }))
            var expected = document
            var expectedIntegrations = integrations.filter { !deviceMode.contains($0.key) }
            var sender = integrations["Segment.io"] as? [String: Any] ?? [:]
            sender["apiHost"] = "t.example.com/v1"
            sender["protocol"] = "https"
            expectedIntegrations["Segment.io"] = sender
            expected["integrations"] = expectedIntegrations
            expected["remotePlugins"] = [Any]()
            if document["metrics"] != nil { expected["metrics"] = ["sampleRate": 0.1, "host": "t.example.com/v1"] }
            let read = try JSONSerialization.jsonObject(with: Data(result.bytes)) as! NSDictionary
            #expect(read == expected as NSDictionary, "\(String(decoding: result.bytes, as: UTF8.self))")
        }
    }

    // MARK: Refused

    @Test(arguments: ["", "[]", "\"x\"", "{", #"{"integrations":{}} x"#, #"{"a":01}"#, #"{"a":"\ud800"}"#, "{\"a\":\"\u{1}\"}"])
    func aDocumentThatIsNotAJSONObjectIsRefused(document: String) {
        #expect(throws: SettingsRewrite.Failure.self) { try SettingsRewrite.rewrite(Array(document.utf8), options: Self.block) }
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: SettingsRewrite.Failure.self) { try SettingsRewrite.rewrite(bytes, options: Self.block) }
    }
}
