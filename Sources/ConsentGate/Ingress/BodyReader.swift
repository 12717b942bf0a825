import Hummingbird
import NIOCore

/// Reads a request body under a size cap and a deadline, so a client that trickles its body
/// cannot hold a request (and its memory) open forever.
enum BodyReader {
    struct Timeout: Error {}

    /// The body is larger than the cap. Its rest was read and discarded, up to `linger` after the cap
    /// was reached: `finished` tells whether its end came by then (the connection can serve the next
    /// request) or not (the client is still sending: close the connection rather than drain it on).
    struct TooLarge: Error {
        var finished: Bool
    }

    static func collect(_ body: RequestBody, upTo maxSize: Int, within deadline: Duration, linger: Duration) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await read(body, upTo: maxSize, linger: linger) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else { throw Timeout() }
            return buffer
        }
    }

    /// One iterator for the whole body: a request body can be iterated once, and its rest must be
    /// read through the same iterator for Hummingbird to find the next request after it.
    private static func read(_ body: RequestBody, upTo maxSize: Int, linger: Duration) async throws -> ByteBuffer {
        var iterator = body.makeAsyncIterator()
        var buffer = ByteBuffer()
        while let part = try await iterator.next() {
            guard buffer.readableBytes + part.readableBytes <= maxSize else {
                // Most clients read the answer only once they have sent the whole body: discard the rest
                // for a while, so that an honest client sees the 413 rather than a reset.
                let end = ContinuousClock.now + linger
                while ContinuousClock.now < end {
                    guard try await iterator.next() != nil else { throw TooLarge(finished: true) }
                }
                throw TooLarge(finished: false)
            }
            buffer.writeImmutableBuffer(part)
        }
        return buffer
    }
}
