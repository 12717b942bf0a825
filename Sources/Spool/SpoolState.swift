import Foundation

/// What the log's callers and its writer thread share, behind one `NSCondition` (the writer waits on it for
/// work; callers signal it). Critical sections only move values; no I/O runs under the lock.
final class SpoolShared: @unchecked Sendable {
    private let condition = NSCondition()
    /// Only touched inside `withLock` / `wait`.
    private var state: SpoolState

    init(_ state: SpoolState) {
        self.state = state
    }

    func withLock<R, E: Error>(_ body: (inout SpoolState) throws(E) -> R) throws(E) -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body(&state)
    }

    /// `withLock`, then wakes the writer if `body` gave it something to do or a nearer deadline (see
    /// ``SpoolState/WriterAgenda``). Appends and completions mostly join a group already timed, so most
    /// calls wake nobody: a wake per call cost two thread switches per batch under load.
    func withLockSignalling<R>(_ body: (inout SpoolState) -> R) -> R {
        condition.lock()
        let before = state.writerAgenda
        defer {
            if state.writerAgenda != before {
                state.statistics.writerWakeups += 1
                condition.signal()
            }
            condition.unlock()
        }
        return body(&state)
    }

    /// Runs `body` under the lock until it returns a value, waiting for a signal (or until the deadline it
    /// asks for) in between. For the writer thread only: it blocks.
    func wait<R>(_ body: (inout SpoolState) -> WaitStep<R>) -> R {
        condition.lock()
        defer { condition.unlock() }
        while true {
            switch body(&state) {
            case .done(let value):
                return value
            case .waitForSignal:
                condition.wait()
            case .waitUntil(let deadline):
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero else { continue }
                let seconds = Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18
                _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
            }
        }
    }

    enum WaitStep<R> {
        case done(R)
        case waitForSignal
        case waitUntil(ContinuousClock.Instant)
    }
}

/// An append waiting for its group commit.
struct SpoolPendingAppend {
    var frame: [UInt8]
    var acceptedAt: Int64
    var continuation: CheckedContinuation<Result<SpoolRecordID, SpoolError>, Never>
}

/// A record handed out by `next`, with the descriptor to read it from and its segment's frame key.
struct SpoolHandout: Sendable {
    var entry: SpoolIndex.Entry
    var fd: Int32
    var key: UInt32
}

/// A `next` call with nothing to hand out yet.
struct SpoolWaiter {
    var token: UInt64
    var max: Int
    var continuation: CheckedContinuation<[SpoolHandout], Never>
}

/// The mutable part of a `SpoolLog`, guarded by `SpoolShared`.
struct SpoolState {
    var index: SpoolIndex
    /// Appends since the last commit, in arrival order.
    var pending: [SpoolPendingAppend] = []
    var waiters: [SpoolWaiter] = []
    var nextToken: UInt64 = 0
    /// Offsets to write to each segment's done-marks, and when the oldest of them was completed.
    var doneMarks: [UInt64: [UInt64]] = [:]
    var doneMarksSince: ContinuousClock.Instant?
    /// Segments whose every record is done: the writer deletes them.
    var deletions: [UInt64] = []
    /// A descriptor per segment on disk, to read records back.
    var readers: [UInt64: Int32] = [:]
    /// Version-1 segments found on open: their frames have no key.
    var unkeyedSegments: Set<UInt64> = []
    /// The writer looks at the pending appends without being woken: it is at work (it looks again when
    /// done), or asleep until the next commit tick. An append then joins a commit already timed.
    var writerWillLook = false
    var closing = false
    var closed = false
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    var statistics = SpoolStatistics()
    var deadLetters = 0
    var deadLetterBytes: Int64 = 0
    /// Sum and count of frame sizes seen (loaded and appended), for `isFull`'s "an average batch".
    var frameBytesSeen: Int64 = 0
    var framesSeen = 0

    init(index: SpoolIndex) {
        self.index = index
    }

    /// What the writer's wait depends on: whether appends and done-marks wait on a deadline, the deletions
    /// queued, `closing`. A caller's change to it (a first pending append the writer will not look at by
    /// itself, a first done-mark, a deletion or `closing`) is what the waiting writer must be woken for; a
    /// caller that leaves it as it was (an append joining a commit already timed) wakes nobody.
    struct WriterAgenda: Equatable {
        var appendsTimed: Bool
        var marksTimed: Bool
        var deletions: Int
        var closing: Bool
    }

    var writerAgenda: WriterAgenda {
        WriterAgenda(appendsTimed: !pending.isEmpty || writerWillLook, marksTimed: doneMarksSince != nil, deletions: deletions.count, closing: closing)
    }

    var averageFrameBytes: Int64 {
        framesSeen == 0 ? 1024 : frameBytesSeen / Int64(framesSeen)
    }

    /// Applies `complete` to the index and queues what it asks for.
    mutating func complete(_ id: SpoolRecordID) {
        switch index.complete(id) {
        case .ignored:
            return
        case .markDone(let id):
            if doneMarks.isEmpty { doneMarksSince = .now }
            doneMarks[id.segment, default: []].append(id.offset)
        case .deleteSegment(let segment):
            doneMarks[segment] = nil
            if doneMarks.isEmpty { doneMarksSince = nil }
            deletions.append(segment)
        }
    }

    /// Hands waiting records to waiting `next` calls, oldest waiter first. The caller resumes them.
    mutating func serveWaiters() -> [(CheckedContinuation<[SpoolHandout], Never>, [SpoolHandout])] {
        var served: [(CheckedContinuation<[SpoolHandout], Never>, [SpoolHandout])] = []
        while !waiters.isEmpty, index.waiting > 0 {
            let waiter = waiters.removeFirst()
            served.append((waiter.continuation, handouts(max: waiter.max)))
        }
        return served
    }

    mutating func handouts(max: Int) -> [SpoolHandout] {
        index.take(max: max).map { entry in
            let segment = entry.id.segment
            let key = unkeyedSegments.contains(segment) ? 0 : SpoolFrame.key(segment: segment)
            return SpoolHandout(entry: entry, fd: readers[segment] ?? -1, key: key)
        }
    }
}
