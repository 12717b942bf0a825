/// Why a request body was refused as a whole. Each error maps to an HTTP status and a stable code
/// that goes into the JSON error body `{"success": false, "code": ..., "message": ...}`.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        /// The HTTP status this code answers with.
        public let status: Int

        private init(_ rawValue: String, status: Int) {
            self.rawValue = rawValue
            self.status = status
        }

        public var description: String { rawValue }

        /// The body is not valid JSON (RFC 8259), or not valid UTF-8.
        public static let invalidJSON = Code("invalid_json", status: 400)
        /// Arrays and objects are nested deeper than the limit.
        public static let nestingTooDeep = Code("nesting_too_deep", status: 400)
        /// The body's top level is not an object, or a batch body has no `batch` array.
        public static let invalidBatch = Code("invalid_batch", status: 400)
        /// A single event (a single-event body or an item of a batch) is larger than 32 KB.
        public static let eventTooLarge = Code("event_too_large", status: 400)
        /// A batch body is larger than 500 KB.
        public static let batchTooLarge = Code("batch_too_large", status: 400)
        /// A batch holds more than 2 500 events.
        public static let tooManyEvents = Code("too_many_events", status: 400)
        /// The event of a single-event route is not valid (see ``EventDefect``).
        public static let invalidEvent = Code("invalid_event", status: 400)
        /// The compressed body is corrupt, truncated, or has trailing bytes.
        public static let invalidCompression = Code("invalid_compression", status: 400)
        /// The body (wire or decompressed) is larger than the hard memory cap.
        public static let payloadTooLarge = Code("payload_too_large", status: 413)
        /// The `Content-Encoding` is not `gzip`, `deflate` or `identity`.
        public static let unsupportedEncoding = Code("unsupported_encoding", status: 415)
    }

    public var code: Code
    /// A human-readable explanation; never contains payload bytes.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
