import Hummingbird
import NIOCore

/// Reads a request body under a size cap and a deadline, so a client that trickles its body
/// cannot hold a request (and its memory) open forever.
enum BodyReader {
    struct Timeout: Error {}

    static func collect(_ body: RequestBody, upTo maxSize: Int, within deadline: Duration) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: maxSize) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else { throw Timeout() }
            return buffer
        }
    }
}
