import ConsentStores
import Foundation
import SegmentWire
import Testing

private func decode(_ json: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
}

@Suite struct JSONPointerTests {
    let document = #"{"data":{"a/b":{"m~n":[10,{"x":true}]},"":"empty"},"list":[1,2]}"#

    @Test func resolvesMembersIndicesAndEscapes() throws {
        let value = try decode(document)
        #expect(try JSONPointer("").resolve(in: value) == value)
        #expect(try JSONPointer("/data/a~1b/m~0n/0").resolve(in: value) == .number(10))
        #expect(try JSONPointer("/data/a~1b/m~0n/1/x").resolve(in: value) == .bool(true))
        #expect(try JSONPointer("/data/").resolve(in: value) == .string("empty"))
        #expect(try JSONPointer("/list/1").resolve(in: value) == .number(2))
    }

    @Test func missingPathsResolveToNothing() throws {
        let value = try decode(document)
        for pointer in ["/nope", "/list/2", "/list/-", "/list/01", "/list/x", "/data/a~1b/m~0n/0/deeper"] {
            #expect(try JSONPointer(pointer).resolve(in: value) == nil, "\(pointer)")
        }
    }

    @Test func rejectsMalformedPointers() {
        for pointer in ["data", "/a~2b", "/a~"] {
            #expect(throws: JSONPointer.ParseError.self, "\(pointer)") { _ = try JSONPointer(pointer) }
        }
    }
}

@Suite struct StatusMappingTests {
    @Test func oneTrustStatusesMapToGrantedAndDenied() throws {
        let value = try decode(
            #"{"Analytics":"ACTIVE","Functional":"always_active","Advertising":"OPT_OUT","DataSharing":"WITHDRAWN","Email":"EXPIRED","Sms":"NO_CONSENT","Push":"PENDING","Phone":"HARD_OPT_OUT"}"#)
        let reading = try StatusMapping.oneTrust.read(value)
        #expect(reading.unmappedStatuses.isEmpty)
        let granted = Dictionary(uniqueKeysWithValues: reading.preferences.map { ($0.category, $0.granted) })
        #expect(granted == [
            "Analytics": true, "Functional": true, "Advertising": false, "DataSharing": false, "Email": false, "Sms": false,
            "Push": false, "Phone": false,
        ])
    }

    @Test func configuredListsBooleansNullsAndUnmappedStatuses() throws {
        let mapping = try StatusMapping(granted: ["yes"], denied: ["no"])
        let reading = try mapping.read(try decode(#"{"A":"YES","B":"no","C":true,"D":false,"E":null,"F":"maybe"}"#))
        let granted = Dictionary(uniqueKeysWithValues: reading.preferences.map { ($0.category, $0.granted) })
        #expect(granted == ["A": true, "B": false, "C": true, "D": false, "E": false, "F": false])
        // A status neither list names never grants, and is reported for a warning.
        #expect(reading.unmappedStatuses == ["maybe"])
        #expect(reading.preferences.map(\.category) == ["A", "B", "C", "D", "E", "F"])
    }

    @Test func refusesWhatItCannotRead() throws {
        #expect(throws: StatusMapping.ReadError.self) { _ = try StatusMapping.booleansOnly.read(try decode(#"{"A":"ACTIVE"}"#)) }
        #expect(throws: StatusMapping.ReadError.self) { _ = try StatusMapping.oneTrust.read(try decode(#"{"A":1}"#)) }
        #expect(throws: StatusMapping.ReadError.self) { _ = try StatusMapping.oneTrust.read(try decode(#"{"A":{"status":"ACTIVE"}}"#)) }
        #expect(throws: StatusMapping.ReadError.self) { _ = try StatusMapping.oneTrust.read(try decode(#"["A"]"#)) }
        #expect(throws: StatusMapping.ConfigurationError.self) { _ = try StatusMapping(granted: ["X"], denied: ["x"]) }
    }
}

@Suite struct URLTemplateTests {
    @Test func percentEncodesTheSubjectEverywhereItAppears() throws {
        let template = try URLTemplate("https://consent.example.com/v1/subjects/{subject}/prefs?id={subject}")
        #expect(template.url(for: "a b/../c?d=é") == "https://consent.example.com/v1/subjects/a%20b%2F..%2Fc%3Fd%3D%C3%A9/prefs?id=a%20b%2F..%2Fc%3Fd%3D%C3%A9")
        #expect(template.url(for: "user-1_x.y~z") == "https://consent.example.com/v1/subjects/user-1_x.y~z/prefs?id=user-1_x.y~z")
    }

    @Test func refusesUnusableTemplates() {
        for text in ["consent.example.com/{subject}", "https://consent.example.com/x", "https://{subject}.example.com/", "https://h/{user}/{subject}", "https://h/a b/{subject}"] {
            #expect(throws: URLTemplate.ParseError.self, "\(text)") { _ = try URLTemplate(text) }
        }
    }
}

@Suite struct PostgresURLTests {
    @Test func readsEveryPart() throws {
        let url = try PostgresURL(parsing: "postgres://app%40x:p%40ss:w@db.internal:6543/consent%20db?sslmode=require&sslrootcert=/etc/ca.pem")
        #expect(url.username == "app@x")
        #expect(url.password == "p@ss:w")
        #expect(url.host == "db.internal")
        #expect(url.port == 6543)
        #expect(url.database == "consent db")
        #expect(url.tlsMode == .require)
        #expect(url.rootCertificatePath == "/etc/ca.pem")
        #expect(!url.redacted.contains("p%40ss") && !url.redacted.contains("p@ss"))
        #expect(url.redacted == "postgres://app%40x:<redacted>@db.internal:6543/consent%20db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem")
        #expect("\(url)" == url.redacted)
    }

    @Test func defaults() throws {
        let url = try PostgresURL(parsing: "postgresql://postgres@[::1]")
        #expect(url.host == "::1")
        #expect(url.port == 5432)
        #expect(url.database == "postgres")
        #expect(url.password == nil)
        #expect(url.tlsMode == .prefer)
    }

    @Test func refusesWhatItCannotUse() {
        for text in ["mysql://u@h/db", "postgres://h/db", "postgres://u@:5432/db", "postgres://u@h:0/db", "postgres://u@h/db?sslmode=allow", "postgres://u@h/db?application_name=x"] {
            #expect(throws: PostgresURL.ParseError.self, "\(text)") { _ = try PostgresURL(parsing: text) }
        }
        do {
            _ = try PostgresURL(parsing: "postgres://u:secret@h/db?sslmode=nope")
        } catch {
            #expect(!error.reason.contains("secret"))
        }
    }
}
