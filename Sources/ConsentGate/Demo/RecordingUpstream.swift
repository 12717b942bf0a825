import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SegmentWire

/// A stand-in for Segment on `http://127.0.0.1:<port>`: it records every request body it receives
/// (inflated when gzip) and answers `{"success":true}`, as Segment does. For the offline demo only.
final class RecordingUpstream: Sendable {
    /// One request as it reached the stand-in.
    struct Received: Sendable {
        var path: String
        /// The JSON body, inflated if it came compressed.
        var body: [UInt8]
    }

    /// The base URL to put in `upstream.url`.
    let url: String
    private let recorded: NIOLockedValueBox<[Received]>
    private let server: BackgroundService

    private init(url: String, recorded: NIOLockedValueBox<[Received]>, server: BackgroundService) {
        self.url = url
        self.recorded = recorded
        self.server = server
    }

    /// Everything received so far, in order.
    var received: [Received] { recorded.withLockedValue { $0 } }

    /// Starts listening on a free loopback port.
    static func start(logger: Logger) async throws -> RecordingUpstream {
        let recorded = NIOLockedValueBox<[Received]>([])
        let router = Router()
        router.post("**") { request, _ -> Response in
            var request = request
            let buffer = try await request.collectBody(upTo: 16 << 20)
            var body = Array(buffer: buffer)
            if let header = request.headers[.contentEncoding], let coding = ContentCoding(headerValue: header), coding != .identity {
                body = (try? body.withUnsafeBytes { bytes throws(WireError) in try Inflater.inflate(bytes, coding: coding, limit: 16 << 20) }) ?? []
            }
            let received = Received(path: request.uri.path, body: body)
            recorded.withLockedValue { $0.append(received) }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"success":true}"#)))
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let server = BackgroundService(
            ClosureService {
                // If the listener never starts, let the waiting caller go.
                defer { continuation.finish() }
                try await app.run()
            },
            logger: logger)
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            try await server.stop()
            throw DemoError("the recording upstream could not listen on 127.0.0.1")
        }
        return RecordingUpstream(url: "http://127.0.0.1:\(port)", recorded: recorded, server: server)
    }

    /// Stops listening, letting open connections finish.
    func stop() async {
        try? await server.stop()
    }
}
