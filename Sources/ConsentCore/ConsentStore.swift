import FoundationEssentials
public import SegmentWire

/// A store of record for consent: where the truth about each subject lives.
///
/// Lookups must either answer (a record, or `nil` for a subject the store does not know) or throw a
/// ``ConsentStoreError``. A store never turns a failure into "unknown": the cache and the verdicts
/// depend on that distinction to fail closed.
public protocol ConsentStore: Sendable {
    /// A short name for logs and metrics (`"sqlite"`, `"postgres"`, `"http"`).
    var kind: String { get }

    /// The record of one subject, or `nil` when the store does not know the subject.
    func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord?

    /// Checks that the store can answer lookups now (for readiness probes).
    func ping() async throws(ConsentStoreError)

    /// Releases connections and files. Called once at shutdown.
    func close() async

    /// How many lookups the store serves at once (its connections or request slots): a request's
    /// cache misses are resolved this many at a time, so none waits in the store's own queue.
    var maxConcurrentLookups: Int { get }
}

extension ConsentStore {
    /// A store that names no bound of its own. A store that wraps another must pass the other's on.
    public var maxConcurrentLookups: Int { 8 }
}

/// A store that owns its data: the consent API and `consent import` write through it.
public protocol WritableConsentStore: ConsentStore {
    /// Stores a subject's preferences, bumping its version; returns the stored record.
    func put(subject: String, preferences: [CategoryPreference], at time: Date) async throws(ConsentStoreError) -> ConsentRecord

    /// Erases a subject; returns whether it existed.
    func delete(subject: String) async throws(ConsentStoreError) -> Bool

    /// Writes many subjects in large transactions; returns how many were written.
    func importRecords(_ records: [(subject: String, preferences: [CategoryPreference])], at time: Date) async throws(ConsentStoreError) -> Int
}

/// Why a store could not answer.
public struct ConsentStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The store cannot be reached or refused to answer.
        public static let unavailable = Code("unavailable")
        /// The store did not answer in time.
        public static let timeout = Code("timeout")
        /// The store answered something consentgate cannot read.
        public static let invalidData = Code("invalid_data")
        /// The circuit breaker is open: the store is not being asked.
        public static let circuitOpen = Code("circuit_open")
        /// The request itself was wrong (e.g. an empty subject).
        public static let invalidRequest = Code("invalid_request")
    }

    public var code: Code
    /// What went wrong, for logs; never contains a subject id.
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}
