import ConsentCore
import ConsentStores
import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresTestSupport
import SegmentWire
import Synchronization
import Testing

/// A consent service on loopback that answers as each test tells it, and counts what it was asked.
final class FakeConsentService: Sendable {
    struct Answer: Sendable {
        var status = 200
        var body = "{}"
        var delay: Duration = .zero
    }

    private struct State {
        var answers: [String: Answer] = [:]
        var fallback = Answer(status: 404, body: #"{"error":"not found"}"#)
        var requests: [(path: String, authorization: String?)] = []
        var inFlight = 0
        var maxInFlight = 0
    }

    private let state = Mutex(State())
    private let task: Task<Void, any Error>
    let port: Int

    private init(task: Task<Void, any Error>, port: Int) {
        self.task = task
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requestCount: Int { state.withLock { $0.requests.count } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
    var lastAuthorization: String? { state.withLock { $0.requests.last?.authorization ?? nil } }
    var lastPath: String? { state.withLock { $0.requests.last?.path } }

    func answer(_ subject: String, _ answer: Answer) { state.withLock { $0.answers[subject] = answer } }
    func answerEverything(_ answer: Answer) { state.withLock { $0.fallback = answer; $0.answers = [:] } }

    static func start() async throws -> FakeConsentService {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let service = Box()
        let router = Router()
        router.get("v1/subjects/:id/preferences") { request, context -> Response in
            let subject = (context.parameters.get("id") ?? "").removingPercentEncoding ?? ""
            let answer = service.value!.begin(subject, path: request.uri.path, authorization: request.headers[.authorization])
            defer { service.value!.end() }
            if answer.delay > .zero { try await Task.sleep(for: answer.delay) }
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "fake-consent-service", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let task = Task { try await app.run() }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let fake = FakeConsentService(task: task, port: port)
        service.value = fake
        return fake
    }

    private func begin(_ subject: String, path: String, authorization: String?) -> Answer {
        state.withLock { state in
            state.requests.append((path, authorization))
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return state.answers[subject] ?? state.fallback
        }
    }

    private func end() { state.withLock { $0.inFlight -= 1 } }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Lets the route reach the service created after the router.
    private final class Box: @unchecked Sendable {
        var value: FakeConsentService?
    }
}

/// A clock the test moves by hand (for the breaker's open period).
final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func advance(by duration: Duration) { instant.withLock { $0 += duration } }
}

private func makeStore(
    _ service: FakeConsentService,
    clock: ManualClock = ManualClock(),
    _ adjust: (inout HTTPConsentStore.Configuration) -> Void = { _ in }
) throws -> HTTPConsentStore {
    var configuration = HTTPConsentStore.Configuration(
        urlTemplate: try URLTemplate(service.baseURL + "/v1/subjects/{subject}/preferences"),
        headers: [.init(name: "Authorization", value: "Bearer service-secret")],
        preferencesPointer: try JSONPointer("/data/purposes"),
        statusMapping: .oneTrust,
        // Generous: only the deadline test is about time, and the machine is shared with the other tests.
        timeout: .seconds(10),
        maxConcurrent: 4,
        breaker: .init(failureThreshold: 3, openDuration: .seconds(30)))
    adjust(&configuration)
    return try HTTPConsentStore(configuration: configuration, logger: quietPostgresLogger, clock: { clock.now })
}

/// Runs `body` with a fresh service and store, closing both whatever happens (an HTTP client that is
/// never shut down traps).
private func withStore(
    clock: ManualClock = ManualClock(),
    _ adjust: (inout HTTPConsentStore.Configuration) -> Void = { _ in },
    _ body: (FakeConsentService, HTTPConsentStore) async throws -> Void
) async throws {
    let service = try await FakeConsentService.start()
    let store: HTTPConsentStore
    do {
        store = try makeStore(service, clock: clock, adjust)
    } catch {
        await service.stop()
        throw error
    }
    do {
        try await body(service, store)
    } catch {
        await store.close()
        await service.stop()
        throw error
    }
    await store.close()
    await service.stop()
}

@Suite(.timeLimit(.minutes(1)))
struct HTTPConsentStoreTests {
    @Test func mapsStatusesAtThePointerAndSendsTheHeaders() async throws {
        try await withStore { service, store in
            service.answer(
                "user 1/é",
                .init(body: #"{"data":{"purposes":{"Analytics":"ACTIVE","Advertising":"WITHDRAWN","Functional":"ALWAYS_ACTIVE"}}}"#))
            let record = try await store.lookup(subject: "user 1/é")
            #expect(record?.subject == "user 1/é")
            #expect(record?.isGranted("Analytics") == true)
            #expect(record?.isGranted("Functional") == true)
            #expect(record?.isGranted("Advertising") == false)
            #expect(record?.preferences.count == 3)
            #expect(service.lastAuthorization == "Bearer service-secret")
            #expect(service.lastPath == "/v1/subjects/user%201%2F%C3%A9/preferences")
            #expect(store.kind == "http")
        }
    }

    @Test func notFoundIsAnUnknownSubject() async throws {
        try await withStore { service, store in
            #expect(try await store.lookup(subject: "stranger") == nil)
            // 404s are answers: they never open the breaker.
            for _ in 0..<5 { _ = try await store.lookup(subject: "stranger") }
            #expect(store.breakerState == .closed(consecutiveFailures: 0))
        }
    }

    @Test func errorsAndUnreadableAnswersAreFailuresNeverUnknown() async throws {
        try await withStore({ $0.breaker.failureThreshold = 100 }) { service, store in
            let cases: [(FakeConsentService.Answer, ConsentStoreError.Code)] = [
                (.init(status: 500, body: "{}"), .unavailable),
                (.init(status: 401, body: "{}"), .unavailable),
                (.init(status: 200, body: "not json"), .invalidData),
                (.init(status: 200, body: #"{"data":{}}"#), .invalidData),
                (.init(status: 200, body: #"{"data":{"purposes":{"Analytics":42}}}"#), .invalidData),
            ]
            for (answer, code) in cases {
                service.answer("u", answer)
                do throws(ConsentStoreError) {
                    _ = try await store.lookup(subject: "u")
                    Issue.record("HTTP \(answer.status) \(answer.body) must fail")
                } catch {
                    #expect(error.code == code, "HTTP \(answer.status) \(answer.body)")
                    #expect(!error.reason.contains("u/") && !error.reason.contains("secret"))
                }
            }
        }
    }

    @Test func aSlowServiceTimesOutWithinTheDeadline() async throws {
        try await withStore({ $0.timeout = .seconds(1) }) { service, store in
            service.answer("slow", .init(body: #"{"data":{"purposes":{}}}"#, delay: .seconds(30)))
            let started = ContinuousClock.now
            do throws(ConsentStoreError) {
                _ = try await store.lookup(subject: "slow")
                Issue.record("a lookup past its deadline must fail")
            } catch {
                #expect(error.code == .timeout)
            }
            // Generous: the deadline is 1 s, the answer would take 30 s (2 cores shared with the other tests).
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func theBreakerOpensThenProbes() async throws {
        let clock = ManualClock()
        try await withStore(clock: clock) { service, store in
            service.answerEverything(.init(status: 503, body: "{}"))
            for _ in 0..<3 {
                await #expect(throws: ConsentStoreError.self) { _ = try await store.lookup(subject: "u") }
            }
            #expect(service.requestCount == 3)
            guard case .open = store.breakerState else {
                throw TestPostgres.Failure(description: "three failures in a row must open the breaker: \(store.breakerState)")
            }
            // Open: failing at once, as circuit_open (store_unavailable), without asking the service.
            for subject in ["u", "v", "never-seen"] {
                do throws(ConsentStoreError) {
                    _ = try await store.lookup(subject: subject)
                    Issue.record("an open breaker must not answer")
                } catch {
                    #expect(error.code == .circuitOpen)
                }
            }
            #expect(service.requestCount == 3)
            await #expect(throws: ConsentStoreError.self) { try await store.ping() }

            // After the open period one probe goes out; it fails, so the breaker opens again.
            clock.advance(by: .seconds(31))
            await #expect(throws: ConsentStoreError.self) { _ = try await store.lookup(subject: "u") }
            #expect(service.requestCount == 4)
            await #expect(throws: ConsentStoreError.self) { _ = try await store.lookup(subject: "u") }
            #expect(service.requestCount == 4)

            // The service recovers: the next probe succeeds and closes the breaker.
            service.answerEverything(.init(status: 404, body: "{}"))
            service.answer("u", .init(body: #"{"data":{"purposes":{"Analytics":"ACTIVE"}}}"#))
            clock.advance(by: .seconds(31))
            #expect(try await store.lookup(subject: "u")?.isGranted("Analytics") == true)
            #expect(store.breakerState == .closed(consecutiveFailures: 0))
            #expect(try await store.lookup(subject: "v") == nil)
            try await store.ping()
        }
    }

    @Test func concurrentRequestsAreBounded() async throws {
        try await withStore({
            $0.maxConcurrent = 2
            // Not about deadlines: generous, the machine is shared with the other tests.
            $0.timeout = .seconds(30)
        }) { service, store in
            service.answerEverything(.init(body: #"{"data":{"purposes":{"Analytics":true}}}"#, delay: .milliseconds(150)))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let record = try await store.lookup(subject: "s\(index)")
                        #expect(record?.isGranted("Analytics") == true)
                    }
                }
                try await group.waitForAll()
            }
            #expect(service.requestCount == 8)
            #expect(service.maxInFlight <= 2)
        }
    }
}
