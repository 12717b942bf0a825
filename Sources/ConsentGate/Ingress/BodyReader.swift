import Hummingbird
import NIOCore
import Synchronization

/// Reads a request body under a size cap and a deadline, so a client that trickles its body
/// cannot hold a request (and its memory) open forever.
///
/// The deadline is a timer on the connection's event loop that cancels the read: cheap enough for
/// every request, where racing the read against `Task.sleep` in a task group cost two child tasks and
/// a dispatch timer each time (about a fifth of the gateway's CPU per batch, measured).
enum BodyReader {
    struct Timeout: Error {}

    /// The body is larger than the cap. Its rest was read and discarded, up to `linger` after the cap
    /// was reached: `finished` tells whether its end came by then (the connection can serve the next
    /// request) or not (the client is still sending: close the connection rather than drain it on).
    struct TooLarge: Error {
        var finished: Bool
    }

    static func collect(
        _ body: RequestBody, upTo maxSize: Int, within deadline: Duration, linger: Duration, on eventLoop: any EventLoop
    ) async throws -> ByteBuffer {
        let expired = Expiry()
        let reading = Task { try await read(body, upTo: maxSize, linger: linger) }
        let (seconds, attoseconds) = deadline.components
        let timer = eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
            if expired.expire() { reading.cancel() }
        }
        defer { timer.cancel() }
        do {
            let buffer = try await withTaskCancellationHandler {
                try await reading.value
            } onCancel: {
                reading.cancel()
            }
            // The body arrived before the timer fired: from here on the timer does nothing.
            guard expired.finish() else { throw Timeout() }
            return buffer
        } catch {
            if !expired.finish() { throw Timeout() }
            throw error
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
            if buffer.readableBytes == 0 {
                buffer = part  // a body in one part is not copied
            } else {
                buffer.writeImmutableBuffer(part)
            }
        }
        return buffer
    }

    /// Who came first, the body or the deadline: exactly one of them wins.
    private final class Expiry: Sendable {
        private let state = Atomic<UInt8>(0)  // 0 reading, 1 finished, 2 expired

        /// The timer fired; `true` if the read was still going (and must be cancelled).
        func expire() -> Bool { state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged }

        /// The read ended; `false` if the deadline had passed first.
        func finish() -> Bool {
            let (exchanged, original) = state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing)
            return exchanged || original == 1
        }
    }
}
