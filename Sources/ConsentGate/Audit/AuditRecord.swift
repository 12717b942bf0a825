import ConsentCore
import SegmentWire

/// One audited decision: an event that was not forwarded unchanged (or, in shadow mode, would not
/// have been). It names the subject only by its HMAC and holds no ids, traits, IPs or payload.
struct AuditRecord: Sendable, Hashable {
    /// ISO 8601 time of the decision.
    var time: String
    var requestId: String?
    /// The name of the request's source (`default` for the top-level settings); never its write key.
    var source: String
    /// The event's `messageId` (a random id the SDK made, not personal data).
    var messageId: String?
    /// HMAC-SHA256 of the subject the truth was looked up for, hex.
    var subject: String?
    var eventType: String?
    var verdict: String
    /// What the policy decided; in shadow mode the event was forwarded all the same.
    var action: String
    var mode: String
    var over: [String]
    var under: [String]
    /// The store record's version the decision was made against.
    var recordVersion: Int64?
    /// Why an event was invalid, for the `invalid` verdict.
    var reason: String?

    /// Appends the record as one JSON line.
    func appendJSONLine(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"time":"#.utf8)
        JSONString.appendQuoted(time, to: &out)
        field("request_id", requestId, &out)
        field("source", source, &out)
        field("message_id", messageId, &out)
        field("subject", subject, &out)
        field("event_type", eventType, &out)
        field("verdict", verdict, &out)
        field("action", action, &out)
        field("mode", mode, &out)
        list("over", over, &out)
        list("under", under, &out)
        if let recordVersion { out.append(contentsOf: #","record_version":\#(recordVersion)"#.utf8) }
        field("reason", reason, &out)
        out.append(contentsOf: "}\n".utf8)
    }

    private func field(_ name: String, _ value: String?, _ out: inout [UInt8]) {
        guard let value else { return }
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: #"":"#.utf8)
        JSONString.appendQuoted(value, to: &out)
    }

    private func list(_ name: String, _ values: [String], _ out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: #"":["#.utf8)
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.appendQuoted(value, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}
