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

    static func collect(
        _ body: RequestBody, upTo maxSize: Int, within deadline: Duration, on eventLoop: any EventLoop
    ) async throws -> ByteBuffer {
        let expired = Expiry()
        let read = Task { try await body.collect(upTo: maxSize) }
        let (seconds, attoseconds) = deadline.components
        let timer = eventLoop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) {
            if expired.expire() { read.cancel() }
        }
        defer { timer.cancel() }
        do {
            let buffer = try await withTaskCancellationHandler {
                try await read.value
            } onCancel: {
                read.cancel()
            }
            // The body arrived before the timer fired: from here on the timer does nothing.
            guard expired.finish() else { throw Timeout() }
            return buffer
        } catch {
            if !expired.finish() { throw Timeout() }
            throw error
        }
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
