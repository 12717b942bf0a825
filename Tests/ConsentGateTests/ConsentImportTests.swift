import ConsentCore
import ConsentGate
import ConsentStores
import Foundation
import Logging
import SegmentWire
import Testing

/// `consentgate consent import`: files in, records in a real SQLite store out.
@Suite struct ConsentImportTests {
    private let directory: URL
    private let logger = Logger(label: "consentgate.import-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private var storePath: String { directory.appendingPathComponent("consent.sqlite").path }

    private var configuration: GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.store.sqlitePath = storePath
        return configuration
    }

    /// Writes `bytes` to a file in the test's directory and returns its path.
    private func file(_ bytes: [UInt8], name: String = "consent.jsonl") throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func file(lines: [String]) throws -> String {
        try file(Array(lines.joined(separator: "\n").utf8) + [0x0A])
    }

    private func runImport(_ path: String, batchSize: Int = ConsentImporter.defaultBatchSize) async throws -> ImportReport {
        try await ConsentImporter.run(file: path, configuration: configuration, logger: logger, batchSize: batchSize)
    }

    private func importFailure(_ path: String, batchSize: Int = ConsentImporter.defaultBatchSize) async throws -> ConsentImportError {
        do {
            let report = try await runImport(path, batchSize: batchSize)
            Issue.record("the import succeeded: \(report.summary)")
            throw CancellationError()
        } catch let error as ConsentImportError {
            return error
        }
    }

    /// Looks subjects up through a store opened afresh, as the gateway would after the import.
    private func lookup(_ subjects: [String]) async throws -> [String: [String: Bool]] {
        let store = try await SQLiteConsentStore.open(path: storePath, logger: logger)
        var found: [String: [String: Bool]] = [:]
        do {
            for subject in subjects {
                if let record = try await store.lookup(subject: subject) {
                    found[subject] = Dictionary(uniqueKeysWithValues: record.preferences.map { ($0.category, $0.granted) })
                }
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        return found
    }

    private func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    @Test func importsLinesIntoTheSQLiteStore() async throws {
        defer { cleanUp() }
        let path = try file(lines: [
            #"{"subject":"user-1","categoryPreferences":{"Analytics":true,"Advertising":false}}"#,
            #"  { "categoryPreferences" : { "Functional" : true } ,  "subject" : "user-2" }  "#,
            #"{"subject":"user-3","categoryPreferences":{},"updatedAt":"2025-01-01T00:00:00Z","source":{"cmp":["onetrust",1.5e3,null,true]}}"#,
        ])
        let report = try await runImport(path)
        #expect(report.subjects == 3)
        #expect(report.lines == 3)
        #expect(report.summary.hasPrefix("imported 3 subjects in "))
        let found = try await lookup(["user-1", "user-2", "user-3", "user-4"])
        #expect(found["user-1"] == ["Advertising": false, "Analytics": true])
        #expect(found["user-2"] == ["Functional": true])
        #expect(found["user-3"] == [:])
        #expect(found["user-4"] == nil)
    }

    @Test func decodesEveryStringEscape() async throws {
        defer { cleanUp() }
        let path = try file(lines: [
            #"{"subject":"quote\"back\\slash\/nl\n\ttab","categoryPreferences":{"Ana\u006Cytics":true}}"#,
            #"{"subject":"caf\u00e9 \ud83d\ude00 \u4e2d","categoryPreferences":{"Advertising":false}}"#,
            // Keys may be escaped too, and raw multi-byte UTF-8 passes as is.
            #"{"\u0073ubject":"café 😀","categoryPreferences":{"Daten\u00fcbermittlung":true}}"#,
        ])
        let report = try await runImport(path)
        #expect(report.subjects == 3)
        let found = try await lookup(["quote\"back\\slash/nl\n\ttab", "café 😀 中", "café 😀"])
        #expect(found["quote\"back\\slash/nl\n\ttab"] == ["Analytics": true])
        #expect(found["café 😀 中"] == ["Advertising": false])
        #expect(found["café 😀"] == ["Datenübermittlung": true])
    }

    @Test func skipsBlankLinesAndCountsThem() async throws {
        defer { cleanUp() }
        // Blank, spaces only, CRLF endings, no newline at the end; a byte order mark before line 1.
        let text = "\u{FEFF}{\"subject\":\"a\",\"categoryPreferences\":{\"Analytics\":true}}\r\n\r\n   \n"
            + "{\"subject\":\"b\",\"categoryPreferences\":{\"Analytics\":false}}\r\n\n"
            + "{\"subject\":\"c\",\"categoryPreferences\":{}}"
        let report = try await runImport(try file(Array(text.utf8)))
        #expect(report.subjects == 3)
        #expect(report.lines == 6)
        let found = try await lookup(["a", "b", "c"])
        #expect(found == ["a": ["Analytics": true], "b": ["Analytics": false], "c": [:]])
    }

    @Test func theLastLineOfARepeatedSubjectWins() async throws {
        defer { cleanUp() }
        let path = try file(lines: [
            #"{"subject":"dup","categoryPreferences":{"Analytics":true}}"#,
            #"{"subject":"other","categoryPreferences":{"Analytics":true}}"#,
            #"{"subject":"dup","categoryPreferences":{"Analytics":false,"Advertising":true}}"#,
            #"{"subject":"dup","categoryPreferences":{"Advertising":false}}"#,
        ])
        // In one batch, and across batches.
        for batchSize in [50_000, 1, 3] {
            try? FileManager.default.removeItem(atPath: storePath)
            let report = try await runImport(path, batchSize: batchSize)
            #expect(report.subjects == 4)
            let found = try await lookup(["dup", "other"])
            #expect(found["dup"] == ["Advertising": false], "batch size \(batchSize)")
            #expect(found["other"] == ["Analytics": true])
        }
    }

    @Test func aBadLineStopsTheImportAndNamesItsNumber() async throws {
        defer { cleanUp() }
        let path = try file(lines: [
            #"{"subject":"ok-1","categoryPreferences":{"Analytics":true}}"#,
            #"{"subject":"ok-2","categoryPreferences":{"Analytics":true}}"#,
            #"{"subject":"ok-3","categoryPreferences":{"Analytics":true}}"#,
            "",
            #"{"subject":"secret-subject-id","categoryPreferences":{"Analytics":"yes"}}"#,
            #"{"subject":"ok-6","categoryPreferences":{"Analytics":true}}"#,
        ])
        // Batches of two: lines 1-2 are committed, line 3's batch is never written.
        let error = try await importFailure(path, batchSize: 2)
        #expect(error.kind == .invalidLine)
        #expect(error.line == 5)
        #expect(error.imported == 2)
        #expect(error.importedThroughLine == 2)
        #expect(error.description.hasPrefix("line 5: category values must be true or false"))
        #expect(error.description.contains("2 subjects from lines 1-2 were imported"))
        #expect(!error.description.contains("secret"))
        let found = try await lookup(["ok-1", "ok-2", "ok-3", "secret-subject-id", "ok-6"])
        #expect(Set(found.keys) == ["ok-1", "ok-2"])
    }

    @Test func aBadFirstBatchWritesNothing() async throws {
        defer { cleanUp() }
        let path = try file(lines: [
            #"{"subject":"ok-1","categoryPreferences":{"Analytics":true}}"#,
            #"{"subject":"ok-2","categoryPreferences":{"Analytics":true"#,
        ])
        let error = try await importFailure(path)
        #expect(error.line == 2)
        #expect(error.imported == 0)
        #expect(error.description.hasSuffix("; nothing was imported"))
        #expect(try await lookup(["ok-1"]).isEmpty)
    }

    /// Every line here is wrong in one way; none may load, and the message must not quote it.
    @Test(arguments: [
        ("not an object", #"["subject","categoryPreferences"]"#, "expected a JSON object"),
        ("no subject", #"{"categoryPreferences":{}}"#, #"missing "subject""#),
        ("no preferences", #"{"subject":"s"}"#, #"missing "categoryPreferences""#),
        ("empty subject", #"{"subject":"","categoryPreferences":{}}"#, #""subject" is empty"#),
        ("numeric subject", #"{"subject":42,"categoryPreferences":{}}"#, #""subject" must be a string"#),
        ("null subject", #"{"subject":null,"categoryPreferences":{}}"#, #""subject" must be a string"#),
        ("array preferences", #"{"subject":"s","categoryPreferences":[]}"#, #""categoryPreferences" must be an object"#),
        ("string value", #"{"subject":"s","categoryPreferences":{"A":"true"}}"#, "category values must be true or false"),
        ("number value", #"{"subject":"s","categoryPreferences":{"A":1}}"#, "category values must be true or false"),
        ("repeated category", #"{"subject":"s","categoryPreferences":{"A":true,"B":true,"A":false}}"#, "repeated category"),
        ("repeated subject", #"{"subject":"s","subject":"t","categoryPreferences":{}}"#, #"repeated key "subject""#),
        ("trailing text", #"{"subject":"s","categoryPreferences":{}} x"#, "unexpected characters after the object"),
        ("two objects", #"{"subject":"s","categoryPreferences":{}}{"subject":"t","categoryPreferences":{}}"#, "unexpected characters"),
        ("missing colon", #"{"subject" "s","categoryPreferences":{}}"#, "expected ':' after a key"),
        ("trailing comma", #"{"subject":"s","categoryPreferences":{},}"#, "expected a key string"),
        ("unterminated string", #"{"subject":"s"#, "unterminated string"),
        ("invalid escape", #"{"subject":"a\qb","categoryPreferences":{}}"#, "invalid escape"),
        ("lone high surrogate", #"{"subject":"\ud83d","categoryPreferences":{}}"#, "unpaired high surrogate escape"),
        ("lone low surrogate", #"{"subject":"\ude00x","categoryPreferences":{}}"#, "unpaired low surrogate escape"),
        ("bad hex", #"{"subject":"\u12g4","categoryPreferences":{}}"#, #"invalid \u escape"#),
        ("single quotes", #"{'subject':'s','categoryPreferences':{}}"#, "expected a key string"),
        ("bad number in extra key", #"{"subject":"s","categoryPreferences":{},"n":01}"#, "number with a leading zero"),
        ("bad literal in extra key", #"{"subject":"s","categoryPreferences":{},"n":nul}"#, "invalid literal"),
        ("deep extra key", #"{"subject":"s","categoryPreferences":{},"x":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}", "arrays and objects nested deeper than 64"),
    ])
    func refusesMalformedLines(_ name: String, _ line: String, _ reason: String) async throws {
        defer { cleanUp() }
        let path = try file(lines: [#"{"subject":"fine","categoryPreferences":{}}"#, line])
        let error = try await importFailure(path)
        #expect(error.kind == .invalidLine, "\(name)")
        #expect(error.line == 2, "\(name)")
        #expect(error.description.hasPrefix("line 2: \(reason)"), "\(name): \(error.description)")
        #expect(try await lookup(["fine"]).isEmpty, "\(name)")
    }

    @Test func refusesRawBytesThatAreNotJSONText() async throws {
        defer { cleanUp() }
        let prefix = Array(#"{"subject":""#.utf8)
        let suffix = Array(#"","categoryPreferences":{}}"#.utf8)
        for (name, bytes, reason) in [
            ("invalid UTF-8", [0xC3, 0x28] as [UInt8], "invalid UTF-8"),
            ("a lone continuation byte", [0x61, 0x80], "invalid UTF-8"),
            ("a raw control character", [0x61, 0x01], "unescaped control character"),
        ] {
            let error = try await importFailure(try file(prefix + bytes + suffix))
            #expect(error.line == 1, "\(name)")
            #expect(error.description.hasPrefix("line 1: \(reason)"), "\(name): \(error.description)")
        }
    }

    @Test func aLineLongerThanTheReadBufferIsRefused() async throws {
        defer { cleanUp() }
        let long = #"{"subject":""# + String(repeating: "x", count: 5 << 20) + #"","categoryPreferences":{}}"#
        let error = try await importFailure(try file(lines: [#"{"subject":"fine","categoryPreferences":{}}"#, long]))
        #expect(error.kind == .invalidLine)
        #expect(error.line == 2)
        #expect(error.description == "line 2: longer than 4 MiB; nothing was imported")
    }

    @Test func aMissingFileFailsBeforeTheStoreIsCreated() async throws {
        defer { cleanUp() }
        let error = try await importFailure(directory.appendingPathComponent("nope.jsonl").path)
        #expect(error.kind == .unreadableFile)
        #expect(error.description.contains("No such file or directory"))
        #expect(!FileManager.default.fileExists(atPath: storePath))
    }

    @Test func importsManyBatchesInOrder() async throws {
        defer { cleanUp() }
        let lines = (0..<2_500).map { index in
            #"{"subject":"bulk-\#(index)","categoryPreferences":{"Analytics":\#(index % 2 == 0),"Advertising":\#(index % 3 == 0)}}"#
        }
        let report = try await runImport(try file(lines: lines), batchSize: 1_000)
        #expect(report.subjects == 2_500)
        let found = try await lookup(["bulk-0", "bulk-1", "bulk-1999", "bulk-2499"])
        #expect(found["bulk-0"] == ["Analytics": true, "Advertising": true])
        #expect(found["bulk-1"] == ["Analytics": false, "Advertising": false])
        #expect(found["bulk-1999"] == ["Analytics": false, "Advertising": false])
        #expect(found["bulk-2499"] == ["Analytics": false, "Advertising": true])
    }
}
