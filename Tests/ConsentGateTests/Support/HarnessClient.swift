import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One HTTP client for tests that talk to child processes (never shut down: it lives as long as the
/// test process).
struct HarnessClient: Sendable {
    static let shared = HarnessClient()
    private let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow, decompression: .disabled))

    func send(_ url: String, method: String, body: [UInt8]?, headers: [(String, String)]) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: data))
    }
}
