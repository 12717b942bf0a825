import Foundation
import SegmentWire
import Testing

@testable import ConsentGate

/// ``IngressRefusal``: the one list of codes the ingress answers with is the README's table of statuses.
@Suite struct IngressRefusalTests {
    /// The rows of README's "What the SDK gets back": the status column and the codes named in the last.
    static func readmeRows() throws -> [(status: String, codes: [String])] {
        let readme = try String(contentsOfFile: RepositoryPaths.root + "/README.md", encoding: .utf8)
        let start = try #require(readme.range(of: "## What the SDK gets back"))
        let section = readme[start.upperBound...]
        let end = section.range(of: "\n## ")?.lowerBound ?? section.endIndex
        let code = try Regex("`([a-z][a-z_]*)`")
        return section[..<end].split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| situation") }.map { row in
            let columns = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let codes = columns.last.map { last in last.matches(of: code).map { String($0.output[1].substring ?? "") } } ?? []
            return (columns.count > 1 ? columns[1] : "", codes)
        }
    }

    @Test func theReadmeTableNamesEveryCodeAndNoOther() throws {
        let documented = Set(try Self.readmeRows().flatMap(\.codes))
        let known = Set(IngressRefusal.Code.all.map(\.rawValue))
        #expect(documented.subtracting(known).isEmpty, "README names codes the ingress never answers: \(documented.subtracting(known))")
        #expect(known.subtracting(documented).isEmpty, "codes missing from README: \(known.subtracting(documented))")
    }

    @Test func eachCodeAnswersWithItsDocumentedStatus() throws {
        let byName = Dictionary(IngressRefusal.Code.all.map { ($0.rawValue, $0) }, uniquingKeysWith: { a, _ in a })
        for row in try Self.readmeRows() {
            guard let status = Int(row.status) else { continue }  // "404 / 405", "same"
            for name in row.codes {
                #expect(byName[name]?.status == status, "\(name): README says \(status)")
            }
        }
    }

    @Test func aWireErrorKeepsItsCodeStatusAndMessage() {
        let error = WireError(.invalidCompression, "bytes after the end of the gzip member")
        let refusal = IngressRefusal(error)
        #expect(refusal.code == .invalidCompression)
        #expect(refusal.status.code == 400)
        #expect(refusal.message == error.message)
        #expect(!refusal.closesConnection)
    }
}
