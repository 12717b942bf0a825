internal import AsyncHTTPClient
public import ConsentCore
import FoundationEssentials
public import Logging
internal import NIOCore
internal import NIOHTTP1
internal import NIOSSL
import SegmentWire
import Synchronization

/// A read-only adapter for a customer's own consent service (OneTrust, Ketch, Didomi, in-house):
/// one HTTP request per cache miss.
///
/// The request is ``Configuration/method`` to ``Configuration/urlTemplate`` with the subject
/// percent-encoded in place of `{subject}`, with ``Configuration/headers`` (e.g. `Authorization`).
/// - 2xx: the JSON answer's value at ``Configuration/preferencesPointer`` holds the preferences, an object
///   or a CMP's array of purposes, laid out as ``Configuration/preferencesLayout`` says and read by
///   ``Configuration/statusMapping`` (a status in neither list is denied).
/// - 404: the service does not know the subject (`nil`).
/// - anything else, no answer within ``Configuration/timeout``, a transport error, an answer that
///   cannot be read: ``ConsentStoreError`` (unavailable, timeout, invalid data), which counts as a
///   failure for the ``CircuitBreaker``.
///
/// At most ``Configuration/maxConcurrent`` requests are in flight; others wait for a slot within their
/// deadline. While the breaker is open, lookups fail at once with ``ConsentStoreError/Code/circuitOpen``
/// — `store_unavailable` to the verdicts, never "unknown". The service has no version numbers, so
/// records carry version 0 and the time they were fetched. Subjects never appear in errors or logs.
public final class HTTPConsentStore: ConsentStore {
    /// One request header.
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// How the store asks the consent service.
    public struct Configuration: Sendable {
        /// `store.http.url_template`.
        public var urlTemplate: URLTemplate
        /// `store.http.method`: `GET` (the default) or another method without a body.
        public var method: String
        /// `store.http.headers`: sent with every request; values are secrets.
        public var headers: [Header]
        /// `store.http.body_template`: a JSON body sent with each request (Ketch's `POST …/consent/{org}/get`),
        /// where the JSON string `"{subject}"` becomes the subject as a JSON string; empty sends no body.
        public var bodyTemplate: String
        /// `store.http.preferences_pointer`: where the preferences (object or array) are in the answer.
        public var preferencesPointer: JSONPointer
        /// `store.http.item.key` / `.value`: how each category's id and value are found there.
        public var preferencesLayout: PreferencesLayout
        /// `store.http.unknown_if_absent`: a 2xx answer with nothing at the preferences pointer means the
        /// service does not know the subject (Didomi's users query answers an unknown user with an empty
        /// list). Off by default: then such an answer is invalid data, so a wrong pointer fails closed.
        public var unknownIfAbsent: Bool
        /// `store.http.status_mapping`.
        public var statusMapping: StatusMapping
        /// `store.http.timeout_seconds`: the deadline of one lookup, waiting for a slot included.
        public var timeout: Duration
        /// `store.http.max_concurrent`: requests in flight at most.
        public var maxConcurrent: Int
        /// `store.http.breaker.*`.
        public var breaker: CircuitBreaker.Configuration
        /// The largest answer read; a larger one is invalid data.
        public var maxResponseBytes: Int
        /// Extra trust roots (PEM) for an HTTPS service, added to the system's.
        public var caFile: String?

        public init(
            urlTemplate: URLTemplate,
            method: String = "GET",
            headers: [Header] = [],
            bodyTemplate: String = "",
            preferencesPointer: JSONPointer = .root,
            preferencesLayout: PreferencesLayout = .flat,
            unknownIfAbsent: Bool = false,
            statusMapping: StatusMapping = .booleansOnly,
            timeout: Duration = .seconds(2),
            maxConcurrent: Int = 32,
            breaker: CircuitBreaker.Configuration = .init(),
            maxResponseBytes: Int = 1 << 20,
            caFile: String? = nil
        ) {
            self.urlTemplate = urlTemplate
            self.method = method
            self.headers = headers
            self.bodyTemplate = bodyTemplate
            self.preferencesPointer = preferencesPointer
            self.preferencesLayout = preferencesLayout
            self.unknownIfAbsent = unknownIfAbsent
            self.statusMapping = statusMapping
            self.timeout = timeout
            self.maxConcurrent = maxConcurrent
            self.breaker = breaker
            self.maxResponseBytes = maxResponseBytes
            self.caFile = caFile
        }
    }

    /// Reads the monotonic clock (injected, so that tests control the breaker's time).
    public typealias Clock = @Sendable () -> ContinuousClock.Instant

    public var kind: String { "http" }
    public var maxConcurrentLookups: Int { configuration.maxConcurrent }
    public let configuration: Configuration

    private let client: HTTPClient
    private let limiter: ConcurrencyLimiter
    private let breaker: Mutex<CircuitBreaker>
    private let reportedStatuses = Mutex<Set<String>>([])
    private let clock: Clock
    private let gate = OperationGate()
    private let logger: Logger

    /// - Throws: ``ConsentStoreError/Code/invalidRequest`` for an unusable configuration.
    public init(configuration: Configuration, logger: Logger, clock: @escaping Clock = { .now }) throws(ConsentStoreError) {
        func require(_ condition: Bool, _ reason: String) throws(ConsentStoreError) {
            if !condition { throw ConsentStoreError(.invalidRequest, "HTTP store configuration: \(reason)") }
        }
        try require(Self.isToken(configuration.method), "method must be an HTTP method token such as GET")
        try require(configuration.timeout > .zero, "timeout must be positive")
        try require(configuration.maxConcurrent >= 1, "maxConcurrent must be at least 1")
        try require(configuration.breaker.failureThreshold >= 1, "breaker.failureThreshold must be at least 1")
        try require(configuration.breaker.openDuration > .zero, "breaker.openDuration must be positive")
        try require(configuration.maxResponseBytes >= 1, "maxResponseBytes must be at least 1")
        for header in configuration.headers {
            try require(Self.isToken(header.name), "a header name is not a valid token")
            try require(!header.value.contains(where: { $0 == "\r" || $0 == "\n" }), "a header value contains a line break")
        }

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile = configuration.caFile, !caFile.isEmpty {
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caFile))]
            } catch {
                throw ConsentStoreError(.invalidRequest, "HTTP store configuration: cannot read a PEM certificate from the CA file")
            }
        }
        var clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(Self.nanoseconds(configuration.timeout))),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConcurrent),
            decompression: .enabled(limit: .size(configuration.maxResponseBytes))
        )
        clientConfiguration.httpVersion = .automatic
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        self.configuration = configuration
        self.limiter = ConcurrencyLimiter(limit: configuration.maxConcurrent)
        self.breaker = Mutex(CircuitBreaker(configuration: configuration.breaker))
        self.clock = clock
        self.logger = logger
    }

    /// The breaker's state now (for tests and diagnostics).
    public var breakerState: CircuitBreaker.State {
        breaker.withLock { $0.state }
    }

    // MARK: - ConsentStore

    public func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        guard !subject.isEmpty else { throw ConsentStoreError(.invalidRequest, "the subject is empty") }
        guard gate.enter() else { throw ConsentStoreError(.unavailable, "the HTTP consent store is closed") }
        defer { gate.leave() }

        let decision = breaker.withLock { $0.decide(now: clock()) }
        let isProbe: Bool
        switch decision {
        case .proceed: isProbe = false
        case .probe: isProbe = true
        case .reject(let retryAfter):
            throw ConsentStoreError(.circuitOpen, "the consent service's circuit breaker is open (next probe in about \(retryAfter))")
        }

        // Set once a slot is held: a deadline that strikes before says nothing about the service.
        let started = Atomic<Bool>(false)
        let result: Result<ConsentRecord?, ConsentStoreError>
        do {
            let request = makeRequest(subject)
            result = .success(
                try await withDeadline(configuration.timeout, "lookup") { [self] () throws(ConsentStoreError) -> ConsentRecord? in
                    do {
                        try await limiter.acquire()
                    } catch {
                        throw ConsentStoreError(.unavailable, "lookup: cancelled while waiting for a request slot")
                    }
                    defer { limiter.release() }
                    started.store(true, ordering: .relaxed)
                    return try await fetch(request, subject: subject)
                })
        } catch {
            result = .failure(error)
        }

        let now = clock()
        let transition: CircuitBreaker.Transition = breaker.withLock { breaker in
            switch result {
            case .success:
                return breaker.succeeded(probe: isProbe, now: now)
            case .failure where !started.load(ordering: .relaxed):
                breaker.abandoned(probe: isProbe, now: now)
                return .none
            case .failure:
                return breaker.failed(probe: isProbe, now: now)
            }
        }
        switch transition {
        case .opened:
            logger.warning(
                "the consent service's circuit breaker opened: lookups fail as store_unavailable until a probe succeeds",
                metadata: ["open_seconds": "\(configuration.breaker.openDuration)"])
        case .closed:
            logger.info("the consent service's circuit breaker closed: its probe succeeded")
        case .none:
            break
        }
        return try result.get()
    }

    /// Fails while the circuit breaker is open; makes no request (the store knows no subject to ask for).
    public func ping() async throws(ConsentStoreError) {
        guard !gate.isClosed else { throw ConsentStoreError(.unavailable, "the HTTP consent store is closed") }
        if case .open(let until) = breakerState, clock() < until {
            throw ConsentStoreError(.circuitOpen, "the consent service's circuit breaker is open")
        }
    }

    public func close() async {
        guard await gate.closeAndDrain() else { return }
        let client = self.client
        // Shutting down must finish even when the caller's task is cancelled.
        await Task { try? await client.shutdown() }.value
    }

    // MARK: - Internals

    private func makeRequest(_ subject: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: configuration.urlTemplate.url(for: subject))
        request.method = HTTPMethod(rawValue: configuration.method)
        request.headers.add(name: "Accept", value: "application/json")
        if !configuration.bodyTemplate.isEmpty {
            var quoted: [UInt8] = []
            JSONString.appendQuoted(subject, to: &quoted)
            let body = configuration.bodyTemplate.replacingOccurrences(of: "\"{subject}\"", with: String(decoding: quoted, as: UTF8.self))
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        for header in configuration.headers {
            request.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        return request
    }

    private func fetch(_ request: HTTPClientRequest, subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        let body: ByteBuffer
        let status: UInt
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Self.nanoseconds(configuration.timeout)), logger: logger)
            status = response.status.code
            if status == 404 || !(200..<300).contains(status) {
                // Drain (bounded) so the connection can be reused.
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if status == 404 { return nil }
                throw ConsentStoreError(.unavailable, "lookup: the consent service answered HTTP \(status)")
            }
            body = try await response.body.collect(upTo: configuration.maxResponseBytes)
        } catch let error as ConsentStoreError {
            throw error
        } catch is NIOTooManyBytesError {
            throw ConsentStoreError(.invalidData, "lookup: the consent service's answer exceeds \(configuration.maxResponseBytes) bytes")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw ConsentStoreError(.timeout, "lookup: the consent service did not answer in time")
        } catch let error as HTTPClientError {
            throw ConsentStoreError(.unavailable, "lookup: HTTP client: \(error.shortDescription)")
        } catch is CancellationError {
            throw ConsentStoreError(.unavailable, "lookup: cancelled")
        } catch {
            // The type only: an arbitrary error's description could carry anything (e.g. the URL).
            throw ConsentStoreError(.unavailable, "lookup: \(String(reflecting: type(of: error)))")
        }

        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
        } catch {
            throw ConsentStoreError(.invalidData, "lookup: the consent service's answer is not valid JSON")
        }
        guard let object = configuration.preferencesPointer.resolve(in: document) else {
            if configuration.unknownIfAbsent { return nil }
            throw ConsentStoreError(
                .invalidData, "lookup: the answer has nothing at the preferences pointer '\(configuration.preferencesPointer)'")
        }
        let reading: StatusMapping.Reading
        do {
            reading = try configuration.statusMapping.read(object, layout: configuration.preferencesLayout)
        } catch {
            throw ConsentStoreError(.invalidData, "lookup: \(error.reason)")
        }
        reportUnmapped(reading.unmappedStatuses)
        return ConsentRecord(subject: subject, preferences: reading.preferences, version: 0, updatedAt: .now)
    }

    /// Warns once per status string that no list names (it was read as denied).
    private func reportUnmapped(_ statuses: Set<String>) {
        guard !statuses.isEmpty else { return }
        let new = reportedStatuses.withLock { reported -> [String] in
            guard reported.count < 100 else { return [] }
            let new = statuses.subtracting(reported).sorted()
            reported.formUnion(new)
            return new
        }
        for status in new {
            logger.warning(
                "the consent service answered a status in neither store.http.status_mapping list; it is read as denied",
                metadata: ["status": "\(status.prefix(64))"])
        }
    }

    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    true
                default:
                    "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
