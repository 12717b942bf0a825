import Testing

@testable import ConsentGate

/// ``JSONMembers``: an object's members and an array's elements as byte ranges, validated on the way.
@Suite struct JSONMembersTests {
    private func withMembers<T>(_ text: String, _ body: (JSONMembers) throws -> T) rethrows -> T {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try body(JSONMembers(bytes: $0)) }
    }

    @Test func membersInOrderWithTheirRanges() throws {
        let text = #" { "a" : 1 , "b\u0021":[true, {}] ,"a":"x" } "#
        try withMembers(text) { (json) throws in
            let object = try #require(try json.document())
            #expect(object.members.map(\.name) == ["a", "b!", "a"])
            let bytes = Array(text.utf8)
            #expect(object.members.map { String(decoding: bytes[$0.value], as: UTF8.self) } == ["1", "[true, {}]", #""x""#])
            #expect(object.members.map { bytes[$0.start] } == Array(repeating: UInt8(ascii: "\""), count: 3))
            #expect(bytes[object.closingBrace] == UInt8(ascii: "}"))
            #expect(object.last("a").map { json.string($0.value) } == "x")
            let array = try #require(try json.array(at: object.members[1].value.lowerBound, depth: 1))
            #expect(array.map { String(decoding: bytes[$0], as: UTF8.self) } == ["true", "{}"])
        }
    }

    @Test func anotherValueIsNotAnObjectOrAnArray() throws {
        try withMembers(#"[1]"#) { (json) throws in
            #expect(try json.document() == nil)
            #expect(try json.object(at: 0, depth: 0) == nil)
            #expect(try json.array(at: 0, depth: 0) == [1..<2])
            #expect(json.string(0..<3) == nil)
        }
    }

    @Test func nestingBeyondTheLimitIsRefused() throws {
        let deep = String(repeating: "[", count: JSONMembers.maxDepth + 1) + String(repeating: "]", count: JSONMembers.maxDepth + 1)
        try withMembers(deep) { (json) throws in
            #expect(throws: JSONMembers.Failure.self) { try json.document() }
        }
        let fine = String(repeating: "[", count: JSONMembers.maxDepth) + String(repeating: "]", count: JSONMembers.maxDepth)
        try withMembers(#"{"a":"# + fine.dropFirst().dropLast() + "}") { (json) throws in
            #expect((try? json.document()) != nil)
        }
    }
}
