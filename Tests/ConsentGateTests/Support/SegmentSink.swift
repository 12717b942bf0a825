import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SegmentWire

/// A local TLS server that plays Segment: it records every request it receives and answers
/// as told (status, headers, delay), or with a fault for the next few requests. It can stop serving
/// and come back on the same port. The test double stands where we do not own the other side.
final class SegmentSink: Sendable {
    struct Received: Sendable {
        var path: String
        var headers: HTTPFields
        var body: [UInt8]
        /// The fault this request met, `nil` when it got the configured answer.
        var fault: Fault? = nil
        /// Whether Segment took the events: a 2xx answer and no fault. A faulted request's events
        /// count as not delivered: Segment refused them (429, 5xx), or the gateway never learnt that
        /// Segment took them (a late answer, a broken connection), so it has the client retry and
        /// Segment's own `messageId` deduplication absorbs the second copy.
        var accepted: Bool = true
        /// When the request arrived.
        var arrived: ContinuousClock.Instant = .now
        /// When the request arrived, on the wall clock (Segment's `receivedAt`).
        var receivedAt = Date()
        /// The client's port: requests with the same port came on the same (kept-alive) connection.
        var clientPort: Int = 0

        /// The body, inflated when it came gzip-compressed.
        var json: [UInt8] {
            headers[.contentEncoding] == "gzip" ? gunzip(body) : body
        }

        /// The decoded batch items (or the single event) as Foundation objects, for assertions.
        var events: [[String: Any]] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else { return [] }
            if let batch = object["batch"] as? [[String: Any]] { return batch }
            return [object]
        }

        /// The body's top-level `sentAt` as written.
        var sentAt: String? {
            (try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])?["sentAt"] as? String
        }

        /// The `messageId` of every event in the request.
        var messageIds: [String] { events.compactMap { $0["messageId"] as? String } }
    }

    struct Behavior: Sendable {
        var status = 200
        var headers: [(String, String)] = []
        var body = #"{"success":true}"#
        var delay: Duration = .zero
    }

    /// A broken answer, for fault injection.
    enum Fault: Sendable, Equatable {
        /// Answer this status (with `Retry-After` when given).
        case status(Int, retryAfter: String? = nil)
        /// Answer 200, but only after this delay: later than the gateway waits.
        case delay(Duration)
        /// Send the head and part of the body, then close the connection.
        case closeMidResponse
        /// Close the connection without answering at all, as a server closing an idle keep-alive
        /// connection does when the close crosses the client's next request.
        case closeBeforeAnswer
    }

    private struct State: Sendable {
        var received: [Received] = []
        var behavior = Behavior()
        /// Faults for the next requests, first one first.
        var faults: [Fault] = []
        var server: ServiceRunner?
        /// While stopped: a socket bound (not listening) to the sink's port, so that no other test's server
        /// binding port 0 is given it meanwhile (connections are still refused).
        var portHold: Int32?
    }

    /// How the sink serves: over TLS (the default) or plain HTTP, and how long it keeps an idle
    /// keep-alive connection open (Hummingbird's default when `nil`).
    struct Options: Sendable {
        var tls = true
        var idleTimeout: TimeAmount?
    }

    /// The request context of the sink's router: it knows the connection, to tell connections apart
    /// and to close one without answering.
    struct Context: RequestContext {
        var coreContext: CoreRequestContextStorage
        let channel: any Channel

        init(source: ApplicationRequestContextSource) {
            self.coreContext = .init(source: source)
            self.channel = source.channel
        }
    }

    private struct MidResponseClose: Error {}

    private let state: NIOLockedValueBox<State>
    private let options: Options
    let port: Int

    var received: [Received] { state.withLockedValue { $0.received } }

    func respond(_ behavior: Behavior) { state.withLockedValue { $0.behavior = behavior } }
    func reset() { state.withLockedValue { $0.received = [] } }

    /// Meets the next `times` requests with `fault`, after the faults already queued; then answers as before.
    func inject(_ fault: Fault, times: Int = 1) {
        state.withLockedValue { $0.faults += Array(repeating: fault, count: times) }
    }

    /// The faults not yet used.
    var pendingFaults: Int { state.withLockedValue { $0.faults.count } }

    /// The base URL to put in `upstream.url`.
    var url: String { "\(options.tls ? "https" : "http")://localhost:\(port)" }

    private init(port: Int, state: NIOLockedValueBox<State>, options: Options) {
        self.port = port
        self.state = state
        self.options = options
    }

    static func start(_ options: Options = Options()) async throws -> SegmentSink {
        let state = NIOLockedValueBox(State())
        let (task, port) = try await serve(state: state, port: 0, options: options)
        state.withLockedValue { $0.server = task }
        return SegmentSink(port: port, state: state, options: options)
    }

    /// Stops serving (connections are refused) until ``resume()``; what was received is kept.
    /// A graceful shutdown: answers in flight finish (a delayed one included).
    func stop() async {
        guard let server = state.withLockedValue({ value -> ServiceRunner? in
            defer { value.server = nil }
            return value.server
        }) else {
            // Stopped already: this is the test's final stop, which lets the port go.
            releasePortHold()
            return
        }
        await server.stop()
        // The hold cannot be bound while the listener is still listening, so it is retried for a moment.
        var hold = LoopbackSocket.bind(port: port)
        let deadline = ContinuousClock.now + .seconds(5)
        while hold == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
            hold = LoopbackSocket.bind(port: port)
        }
        state.withLockedValue { $0.portHold = hold }
    }

    /// Serves again on the same port, after ``stop()``. The listener binds beside the hold (both reuse
    /// the address; neither listens yet), and the hold goes only once it listens: the port is never free.
    func resume() async throws {
        let (server, _) = try await Self.serve(state: state, port: port, options: options)
        releasePortHold()
        state.withLockedValue { $0.server = server }
    }

    private func releasePortHold() {
        let hold = state.withLockedValue { value -> Int32? in
            defer { value.portHold = nil }
            return value.portHold
        }
        if let hold { close(hold) }
    }

    private static func serve(state: NIOLockedValueBox<State>, port: Int, options: Options) async throws -> (ServiceRunner, Int) {
        let router = Router(context: Context.self)
        router.post("**") { request, context -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 16 << 20)
            let (behavior, fault) = state.withLockedValue { value -> (Behavior, Fault?) in
                let fault = value.faults.isEmpty ? nil : value.faults.removeFirst()
                let accepted = fault == nil && (200..<300).contains(value.behavior.status)
                value.received.append(
                    Received(
                        path: request.uri.path, headers: request.headers, body: Array(buffer: body), fault: fault, accepted: accepted,
                        clientPort: context.channel.remoteAddress?.port ?? 0))
                return (value.behavior, fault)
            }
            switch fault {
            case .status(let status, let retryAfter)?:
                var headers: HTTPFields = [.contentType: "application/json"]
                if let retryAfter { headers[.retryAfter] = retryAfter }
                return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{}")))
            case .delay(let delay)?:
                try await Task.sleep(for: delay)
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: behavior.body)))
            case .closeMidResponse?:
                // The error thrown while writing the body ends the connection, its answer half sent.
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: ResponseBody(contentLength: 64) { writer in
                        try await writer.write(ByteBuffer(string: #"{"succ"#))
                        throw MidResponseClose()
                    })
            case .closeBeforeAnswer?:
                try? await context.channel.close()
                throw MidResponseClose()
            case nil:
                break
            }
            if behavior.delay > .zero { try await Task.sleep(for: behavior.delay) }
            var headers: HTTPFields = [.contentType: "application/json"]
            for (name, value) in behavior.headers { headers[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: behavior.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: behavior.body)))
        }
        return try await LoopbackServer.start(
            router, tls: options.tls, http1: .init(idleTimeout: options.idleTimeout), port: port, label: "segment-sink")
    }
}

/// Inflates a gzip body for assertions.
func gunzip(_ bytes: [UInt8]) -> [UInt8] {
    (try? bytes.withUnsafeBytes { try Inflater.inflate($0, coding: .gzip, limit: 64 << 20) }) ?? []
}
