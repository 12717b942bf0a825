extension JSONCursor {
    /// Reads a member's key string and colon; leaves the cursor at the value.
    /// - Returns: the key's string range (quotes included) and whether it holds escapes or non-ASCII bytes.
    @inline(__always)
    mutating func readKeyString() throws(WireError) -> (range: Range<Int>, shape: StringShape) {
        guard peekToken() == UInt8(ascii: "\"") else { throw unexpected(expecting: "a key string") }
        let start = pos
        let shape = try scanStringShape()
        let range = start..<pos
        guard peekToken() == UInt8(ascii: ":") else { throw unexpected(expecting: "':'") }
        pos &+= 1
        guard peekToken() != nil else { throw unexpected(expecting: "a value") }
        return (range, shape)
    }

    /// Reads a member's key (decoded and folded before it is classified) and colon; leaves the cursor
    /// at the value. `folded`: the key is an interpreted one only to a case-insensitive receiver.
    @inline(__always)
    mutating func readMemberKey() throws(WireError) -> (key: MemberKey, folded: Bool) {
        let (range, shape) = try readKeyString()
        let content = base + range.lowerBound + 1
        let count = range.count - 2
        guard shape.isEmpty else { return Self.decodedKey(content, count: count, shape: shape) }
        return MemberKey.classify(content, count: count)
    }

    /// Classifies a key that holds escapes or non-ASCII bytes, after decoding and folding them. Out of
    /// line: it is rare, and its stack buffer would cost every inlined ``readMemberKey()`` a
    /// stack-protector check.
    @inline(never)
    private static func decodedKey(_ content: UnsafePointer<UInt8>, count: Int, shape: StringShape) -> (key: MemberKey, folded: Bool) {
        guard count <= MemberKey.longestEscaped else { return (.other, false) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            guard let out = buffer.baseAddress else { return (.other, false) }
            var length = count
            if shape.contains(.escaped) {
                length = JSONString.unescape(content, count: count, into: out)
            } else {
                out.initialize(from: content, count: count)
            }
            guard let (folded, replaced) = KeyFolding.foldOntoASCII(out, count: length) else { return (.other, false) }
            let match = MemberKey.classify(out, count: folded)
            return (match.key, match.folded || (replaced && match.key != .other))
        }
    }
}
