import Foundation

/// Realistic Segment events and batches for end-to-end tests.
enum TestEvents {
    /// A track event with context, properties and (optionally) a consent stamp.
    static func track(
        userId: String? = "user-1",
        anonymousId: String? = "anon-1",
        messageId: String = UUID().uuidString,
        event: String = "Song Played",
        stamp: [String: Bool]? = ["Advertising": false, "Analytics": true],
        padding: Int = 0
    ) -> String {
        var fields: [String] = [#""type":"track""#, #""event":\#(quote(event))"#, #""messageId":\#(quote(messageId))"#]
        if let userId { fields.append(#""userId":\#(quote(userId))"#) }
        if let anonymousId { fields.append(#""anonymousId":\#(quote(anonymousId))"#) }
        fields.append(#""timestamp":"2026-11-29T10:00:00.000Z""#)
        fields.append(#""properties":{"name":"Fallin for You","plays":3,"ratio":0.75,"tags":["a","b"],"note":"\#(String(repeating: "x", count: padding))"}"#)
        var context = #""library":{"name":"analytics-python","version":"2.3.4"},"locale":"en-US""#
        if let stamp { context += #","consent":{"categoryPreferences":\#(preferences(stamp))}"# }
        fields.append(#""context":{\#(context)}"#)
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func preferences(_ stamp: [String: Bool]) -> String {
        "{" + stamp.sorted { $0.key < $1.key }.map { "\(quote($0.key)):\($0.value)" }.joined(separator: ",") + "}"
    }

    /// A batch body around the given events.
    static func batch(_ events: [String], extra: String = #","sentAt":"2026-11-29T10:00:01.000Z","writeKey":"wk-test""#) -> String {
        #"{"batch":[\#(events.joined(separator: ","))]\#(extra)}"#
    }

    static func quote(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }

    static func basic(_ key: String) -> (String, String) {
        ("Authorization", "Basic " + Data((key + ":").utf8).base64EncodedString())
    }
}
