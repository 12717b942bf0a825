import Foundation
import HTTPTypes
import Hummingbird
import Logging
import HummingbirdTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import SegmentWire

/// A local TLS server that plays Segment: it records every request it receives and answers
/// as told (status, headers, delay). The test double stands where we do not own the other side.
final class SegmentSink: Sendable {
    struct Received: Sendable {
        var path: String
        var headers: HTTPFields
        var body: [UInt8]

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
    }

    struct Behavior: Sendable {
        var status = 200
        var headers: [(String, String)] = []
        var body = #"{"success":true}"#
        var delay: Duration = .zero
    }

    private let state: NIOLockedValueBox<(received: [Received], behavior: Behavior)>
    private let task: Task<Void, any Error>
    let port: Int

    var received: [Received] { state.withLockedValue { $0.received } }

    func respond(_ behavior: Behavior) { state.withLockedValue { $0.behavior = behavior } }
    func reset() { state.withLockedValue { $0.received = [] } }

    /// The base URL to put in `upstream.url`.
    var url: String { "https://localhost:\(port)" }

    private init(task: Task<Void, any Error>, port: Int, state: NIOLockedValueBox<(received: [Received], behavior: Behavior)>) {
        self.task = task
        self.port = port
        self.state = state
    }

    static func start() async throws -> SegmentSink {
        let state = NIOLockedValueBox<(received: [Received], behavior: Behavior)>(([], Behavior()))
        let router = Router()
        router.post("**") { request, context -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 16 << 20)
            let behavior = state.withLockedValue { value -> Behavior in
                value.received.append(Received(path: request.uri.path, headers: request.headers, body: Array(buffer: body)))
                return value.behavior
            }
            if behavior.delay > .zero { try await Task.sleep(for: behavior.delay) }
            var headers: HTTPFields = [.contentType: "application/json"]
            for (name, value) in behavior.headers { headers[HTTPField.Name(name)!] = value }
            return Response(status: .init(code: behavior.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: behavior.body)))
        }
        let files = TestCertificates.files
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem)))
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "segment-sink")
        )
        let task = Task { try await app.run() }
        var iterator = portStream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let sink = SegmentSink(task: task, port: port, state: state)
        return sink
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

/// Inflates a gzip body for assertions.
func gunzip(_ bytes: [UInt8]) -> [UInt8] {
    (try? bytes.withUnsafeBytes { try Inflater.inflate($0, coding: .gzip, limit: 64 << 20) }) ?? []
}
