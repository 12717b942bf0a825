/// The durable log of `delivery.mode: spool`: `append` returns once a batch is on disk (group commit),
/// a deliverer takes records with `next` and answers each with `complete` or `deadLetter`, and a restart
/// hands out again whatever was not completed (at least once).
///
/// Memory holds an index entry per undelivered record (`SpoolIndex`), never a body: `next` reads bodies
/// back from the segment files (recently written ones come from the page cache). All blocking writes run on
/// the writer thread (`SpoolWriter`); `next` does short `pread`s, `deadLetter` one file write and its syncs.
public final class SpoolLog: Sendable {
    /// The configuration it was opened with.
    public let configuration: SpoolConfiguration
    let shared: SpoolShared

    init(configuration: SpoolConfiguration, shared: SpoolShared) {
        self.configuration = configuration
        self.shared = shared
    }

    /// A log dropped without `close` still stops its writer thread (after committing what is pending) and
    /// releases the lock; `close` is the way to wait for that.
    deinit {
        shared.withLockSignalling { $0.closing = true }
    }

    /// Returns once the record is durable (one fsync covers every append that arrived within
    /// `commitInterval`). Throws `.full` (nothing written) when it would exceed `maxBytes`, `.closed` after
    /// `close`, `.io` when the write or sync failed (then nothing of it counts: it was never acknowledged).
    /// The batch is freed once encoded, before the wait, on the caller's thread.
    public func append(_ batch: consuming SpooledBatch) async throws(SpoolError) -> SpoolRecordID {
        let frame = SpoolFrame.encode(batch)
        let acceptedAt = batch.acceptedAtMilliseconds
        _ = consume batch
        guard frame.count - SpoolFrame.headerBytes <= SpoolFrame.maxPayloadBytes else {
            throw SpoolError(.full, "a batch of \(frame.count) bytes is larger than any record may be")
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<SpoolRecordID, SpoolError>, Never>) in
            let refusal: SpoolError? = shared.withLockSignalling { state in
                if state.closing { return SpoolError(.closed, "the spool is closed") }
                guard state.index.reserve(Int64(frame.count)) else {
                    return SpoolError(
                        .full, "the spool holds \(state.index.bytes + state.index.reserved) undelivered bytes of \(state.index.maxBytes)")
                }
                state.pending.append(
                    SpoolPendingAppend(frame: frame, acceptedAt: acceptedAt, continuation: continuation))
                return nil
            }
            if let refusal { continuation.resume(returning: .failure(refusal)) }
        }
        return try result.get()
    }

    /// Up to `max` durable records not yet handed out since open, oldest first. Suspends until at least
    /// one exists; returns [] once the log is closed or the calling task is cancelled.
    ///
    /// A record that cannot be read back intact (the disk damaged it after it was written) is counted in
    /// `statistics.corruptRecords`, completed, and left out.
    public func next(max: Int) async -> [(id: SpoolRecordID, batch: SpooledBatch)] {
        let count = Swift.max(max, 1)
        while true {
            let handouts = await take(max: count)
            if handouts.isEmpty { return [] }
            var batches: [(id: SpoolRecordID, batch: SpooledBatch)] = []
            batches.reserveCapacity(handouts.count)
            for handout in handouts {
                do throws(SpoolError) {
                    batches.append((handout.entry.id, try read(handout)))
                } catch {
                    let closed = shared.withLock { state in
                        if !state.closing { state.statistics.corruptRecords += 1 }
                        return state.closing
                    }
                    if closed { return [] }
                    complete(handout.entry.id)
                }
            }
            if !batches.isEmpty { return batches }
        }
    }

    private func take(max: Int) async -> [SpoolHandout] {
        let token = shared.withLock { state in
            state.nextToken += 1
            return state.nextToken
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[SpoolHandout], Never>) in
                let ready: [SpoolHandout]? = shared.withLock { state in
                    if state.closing || Task.isCancelled { return [] }
                    let handouts = state.handouts(max: max)
                    if !handouts.isEmpty { return handouts }
                    state.waiters.append(SpoolWaiter(token: token, max: max, continuation: continuation))
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = shared.withLock { state -> SpoolWaiter? in
                guard let index = state.waiters.firstIndex(where: { $0.token == token }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: [])
        }
    }

    private func read(_ handout: SpoolHandout) throws(SpoolError) -> SpooledBatch {
        let entry = handout.entry
        let path = configuration.directory + "/" + SpoolDirectory.segmentName(entry.id.segment)
        let frame = try SpoolFiles.read(handout.fd, count: Int(entry.frameBytes), at: Int64(entry.id.offset), path)
        return try frame.withUnsafeBytes { raw in
            Result { () throws(SpoolError) in try SpooledBatch.decode(try SpoolFrame.payload(ofFrame: raw, key: handout.key)) }
        }.get()
    }

    /// The record was delivered: never handed out again, even after a restart (the mark is persisted
    /// lazily, within `SpoolWriter.doneMarkInterval`: a crash before may deliver it again — at least once).
    /// Deletes its segment once every record in it is done. An id not handed out, or already completed, is
    /// ignored. Does no I/O itself.
    public func complete(_ id: SpoolRecordID) {
        shared.withLockSignalling { state in state.complete(id) }
    }

    /// What the spool holds now.
    public var status: SpoolStatus {
        shared.withLock { state in
            SpoolStatus(
                bytes: state.index.bytes,
                batches: state.index.batches,
                oldestAcceptedAtMilliseconds: state.index.oldestAcceptedAt,
                deadLetters: state.deadLetters,
                deadLetterBytes: state.deadLetterBytes,
                segments: state.index.segments.count + state.deletions.count
            )
        }
    }

    /// Counters since open.
    public var statistics: SpoolStatistics {
        shared.withLock { $0.statistics }
    }

    /// Every fsync/fdatasync issued since open (`statistics.fsyncs`).
    public var fsyncCount: Int { statistics.fsyncs }

    /// True when the next append of an average batch (the mean frame seen since open) would not fit
    /// (for /readyz).
    public var isFull: Bool {
        shared.withLock { state in
            state.index.bytes + state.index.reserved + state.averageFrameBytes > state.index.maxBytes
        }
    }

    /// Finishes pending commits, persists the done-marks, releases the lock; later appends throw `.closed`,
    /// pending `next` calls return []. Calling it again waits for the same end.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let closed = shared.withLockSignalling { state in
                state.closing = true
                if state.closed { return true }
                state.closeWaiters.append(continuation)
                return false
            }
            if closed { continuation.resume() }
        }
    }
}
