import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A customer's consent service on loopback: `GET /consent/{id}` answers the JSON it is given per
/// subject (404 for others), or a status for everything, after a delay when told to be slow.
final class CustomerConsentService: Sendable {
    private struct State: Sendable {
        var bodies: [String: String] = [:]
        var failure: Int?
        var delay: Duration = .zero
        var requests = 0
        /// The answer for a subject the service does not know, when not 404 (Didomi: an empty list).
        var unknownBody: String?
    }

    private let state: NIOLockedValueBox<State>
    private let server: ServiceRunner
    let port: Int

    private init(server: ServiceRunner, port: Int, state: NIOLockedValueBox<State>) {
        self.server = server
        self.port = port
        self.state = state
    }

    var urlTemplate: String { "http://127.0.0.1:\(port)/consent/{subject}" }
    var requests: Int { state.withLockedValue { $0.requests } }
    func set(_ subject: String, _ json: String) { state.withLockedValue { $0.bodies[subject] = json } }
    func fail(with status: Int?) { state.withLockedValue { $0.failure = status } }
    /// Answers an unknown subject with 200 and `json` instead of 404 (`nil`: 404 again).
    func answerUnknown(with json: String?) { state.withLockedValue { $0.unknownBody = json } }
    /// `GET /users?organization_user_id={subject}`: a service that takes the subject in the query (Didomi).
    var queryURLTemplate: String { "http://127.0.0.1:\(port)/users?organization_id=acme&organization_user_id={subject}" }
    /// `POST /consent/get` with the subject in the JSON body's `identities` object (Ketch).
    var bodyURL: String { "http://127.0.0.1:\(port)/consent/get" }
    /// Answers every request only after `delay` (`.zero`: at once).
    func slow(by delay: Duration) { state.withLockedValue { $0.delay = delay } }

    static func start() async throws -> CustomerConsentService {
        let state = NIOLockedValueBox<State>(State())
        let router = Router()
        @Sendable func answer(_ subject: String) async throws -> Response {
            let (body, failure, delay) = state.withLockedValue { value -> (String?, Int?, Duration) in
                value.requests += 1
                return (value.bodies[subject] ?? value.unknownBody, value.failure, value.delay)
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            if let failure { return Response(status: .init(code: failure)) }
            guard let body else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("consent/:id") { _, context -> Response in
            try await answer(context.parameters.get("id") ?? "")
        }
        router.get("users") { request, _ -> Response in
            try await answer(request.uri.queryParameters.get("organization_user_id") ?? "")
        }
        router.post("consent/get") { request, _ -> Response in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 16)
            let json = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]
            let identities = json?["identities"] as? [String: String]
            return try await answer(identities?.values.first ?? "")
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "customer-consent-service", factory: { _ in SwiftLogNoOpLogHandler() }))
        let server = ServiceRunner([app], logger: Logger(label: "customer-consent-service"))
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return CustomerConsentService(server: server, port: port, state: state)
    }

    /// Stops the service gracefully.
    func stop() async {
        await server.stop()
    }
}
