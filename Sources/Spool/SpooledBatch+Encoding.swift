/// A batch's payload inside a record: every field, versioned and length-prefixed.
///
/// ```
/// u8  version (1)
/// i64 acceptedAtMilliseconds
/// str source, str path                        (str = u32 length + UTF-8)
/// opt authorization, contentType, userAgent,   (opt = u8 0 | u8 1 + str)
///     contentEncoding, forwardedFor
/// u32 body length + body
/// ```
/// A reader refuses another version rather than guess (`.corrupt`); a new field means version 2.
extension SpooledBatch {
    static let encodingVersion: UInt8 = 1

    /// The payload bytes, appended to `bytes` (a frame's header room may already be there).
    func encode(into bytes: inout [UInt8]) {
        bytes.append(Self.encodingVersion)
        bytes.appendLittleEndian(acceptedAtMilliseconds)
        bytes.appendField(source.utf8)
        bytes.appendField(path.utf8)
        bytes.appendOptionalField(authorization)
        bytes.appendOptionalField(contentType)
        bytes.appendOptionalField(userAgent)
        bytes.appendOptionalField(contentEncoding)
        bytes.appendOptionalField(forwardedFor)
        bytes.appendField(body)
    }

    /// The payload's size, to allocate a frame once.
    var encodedCount: Int {
        func optional(_ s: String?) -> Int { s.map { 5 + $0.utf8.count } ?? 1 }
        return 1 + 8 + 4 + source.utf8.count + 4 + path.utf8.count + optional(authorization)
            + optional(contentType) + optional(userAgent) + optional(contentEncoding) + optional(forwardedFor)
            + 4 + body.count
    }

    /// Decodes a whole payload; trailing bytes are an error.
    static func decode(_ payload: UnsafeRawBufferPointer) throws(SpoolError) -> SpooledBatch {
        var reader = SpoolByteReader(payload)
        let version = try reader.read(UInt8.self)
        guard version == encodingVersion else {
            throw SpoolError(.corrupt, "a record has payload version \(version), this build reads \(encodingVersion)")
        }
        let batch = SpooledBatch(
            acceptedAtMilliseconds: try reader.read(Int64.self),
            source: try reader.readString(),
            path: try reader.readString(),
            authorization: try reader.readOptionalString(),
            contentType: try reader.readOptionalString(),
            userAgent: try reader.readOptionalString(),
            contentEncoding: try reader.readOptionalString(),
            forwardedFor: try reader.readOptionalString(),
            body: try reader.readBytes()
        )
        guard reader.isAtEnd else { throw SpoolError(.corrupt, "a record has bytes after its body") }
        return batch
    }

    static func decode(_ payload: [UInt8]) throws(SpoolError) -> SpooledBatch {
        try payload.withUnsafeBytes { raw in Result { () throws(SpoolError) in try decode(raw) } }.get()
    }

    /// Only the acknowledgement time, which the in-memory index keeps (the body stays on disk).
    static func acceptedAt(_ payload: UnsafeRawBufferPointer) throws(SpoolError) -> Int64 {
        var reader = SpoolByteReader(payload)
        let version = try reader.read(UInt8.self)
        guard version == encodingVersion else {
            throw SpoolError(.corrupt, "a record has payload version \(version), this build reads \(encodingVersion)")
        }
        return try reader.read(Int64.self)
    }

    /// Decoding evaluates its fields in this order, which is the encoding's.
    private init(
        acceptedAtMilliseconds: Int64, source: String, path: String, authorization: String?,
        contentType: String?, userAgent: String?, contentEncoding: String?, forwardedFor: String?, body: [UInt8]
    ) {
        self.init(
            source: source, path: path, authorization: authorization, contentType: contentType,
            userAgent: userAgent, contentEncoding: contentEncoding, forwardedFor: forwardedFor,
            acceptedAtMilliseconds: acceptedAtMilliseconds, body: body)
    }
}
