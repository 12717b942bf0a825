import ConsentCore
import FoundationEssentials
import SegmentWire

/// The JSON of the consent API: `{"categoryPreferences": {"Advertising": false, ...}}`.
/// (`consent import` lines add `subject`; a million of them are read by `ConsentLineParser` instead.)
///
/// Off the hot path, so Foundation's decoder is fine here; it refuses non-boolean values.
struct ConsentDocument: Decodable, Sendable {
    var subject: String?
    var categoryPreferences: [String: Bool]

    var preferences: [CategoryPreference] {
        categoryPreferences.map { CategoryPreference(category: $0.key, granted: $0.value) }
            .sorted { $0.category < $1.category }
    }

    static func decode(_ bytes: some Collection<UInt8>) throws(ConsentDocumentError) -> ConsentDocument {
        do {
            return try JSONDecoder().decode(ConsentDocument.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw ConsentDocumentError("'\(key.stringValue)' is required")
        } catch DecodingError.typeMismatch(_, let context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConsentDocumentError("'\(path)' has the wrong type: categoryPreferences maps category ids to true or false")
        } catch {
            throw ConsentDocumentError("the body is not valid JSON of the form {\"categoryPreferences\": {\"Category\": true}}")
        }
    }

    /// A stored record as the consent API answers it.
    static func json(_ record: ConsentRecord) -> [UInt8] {
        var out: [UInt8] = Array(#"{"subject":"#.utf8)
        JSONString.appendQuoted(record.subject, to: &out)
        out.append(contentsOf: #","categoryPreferences":{"#.utf8)
        for (index, preference) in record.preferences.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.appendQuoted(preference.category, to: &out)
            out.append(contentsOf: (preference.granted ? ":true" : ":false").utf8)
        }
        out.append(contentsOf: #"},"version":\#(record.version),"updatedAt":"#.utf8)
        JSONString.appendQuoted(record.updatedAt.formatted(.iso8601), to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

struct ConsentDocumentError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
