/// The in-memory index of a spool, as a value with no I/O: which records wait to be handed out, which are
/// out with the deliverer, how many undelivered bytes there are against `maxBytes`, and when a segment
/// may be deleted. `SpoolLog` performs what it answers (write a done-mark, delete a segment).
///
/// It keeps ids, sizes and times, never bodies (about 40 bytes a record); bodies are read back from the
/// segment when handed out.
///
/// ```
///   reserve ──▶ commit ──▶ waiting ──take──▶ handed out ──complete──▶ done (markDone, or deleteSegment
///      │                                                                    when its segment is sealed
///      └─ release (the commit failed)                                      and nothing in it is live)
/// ```
struct SpoolIndex: Sendable {
    struct Entry: Hashable, Sendable {
        var id: SpoolRecordID
        /// The whole frame, header included: what the record costs against `maxBytes`.
        var frameBytes: Int64
        var acceptedAt: Int64
    }

    struct Segment: Hashable, Sendable {
        /// Records committed to it and not yet done.
        var live = 0
        /// No more appends go to it (it is not the active segment).
        var sealed = false
    }

    /// What `complete` asks the driver to do.
    enum Completion: Hashable, Sendable {
        /// The id was not handed out (unknown, or already completed): nothing to do.
        case ignored
        /// Persist the mark (lazily) so a restart does not hand the record out again.
        case markDone(SpoolRecordID)
        /// The record was the segment's last live one and the segment is sealed: delete it and its marks.
        case deleteSegment(UInt64)
    }

    let maxBytes: Int64
    private(set) var segments: [UInt64: Segment] = [:]
    private var queue: [Entry] = []
    private var head = 0
    private(set) var handedOut: [SpoolRecordID: Entry] = [:]
    /// Committed records not yet done.
    private(set) var bytes: Int64 = 0
    /// Accepted appends not yet committed.
    private(set) var reserved: Int64 = 0

    init(maxBytes: Int64) {
        self.maxBytes = maxBytes
    }

    /// Records committed and not done (waiting or handed out).
    var batches: Int { queue.count - head + handedOut.count }
    /// Records waiting to be handed out.
    var waiting: Int { queue.count - head }

    /// When the oldest undelivered record was acknowledged. Cheap while the waiting records are in time
    /// order (the usual case); linear in them once one is not (a requeued dead letter keeps its first
    /// acknowledgement time, and wall clocks step back), until the queue next runs empty.
    var oldestAcceptedAt: Int64? {
        var oldest = handedOut.values.lazy.map(\.acceptedAt).min()
        let waiting = queue[head...]
        if queueInTimeOrder {
            if let first = waiting.first, oldest.map({ first.acceptedAt < $0 }) ?? true { oldest = first.acceptedAt }
            return oldest
        }
        for entry in waiting where oldest.map({ entry.acceptedAt < $0 }) ?? true {
            oldest = entry.acceptedAt
        }
        return oldest
    }

    /// True while every waiting record was acknowledged no earlier than the one before it.
    private var queueInTimeOrder = true

    /// Room for a frame of this size? If so it is counted until `commit` or `release`.
    mutating func reserve(_ frameBytes: Int64) -> Bool {
        guard bytes + reserved + frameBytes <= maxBytes else { return false }
        reserved += frameBytes
        return true
    }

    /// A reserved append that was not written (its commit failed).
    mutating func release(_ frameBytes: Int64) {
        reserved -= frameBytes
    }

    /// A new segment, the active one, or an existing one found on open (then sealed by `seal`).
    mutating func addSegment(_ segment: UInt64) {
        segments[segment] = Segment()
    }

    /// A reserved append is durable: it waits to be handed out.
    mutating func commit(_ entry: Entry) {
        reserved -= entry.frameBytes
        load(entry)
    }

    /// An undelivered record found on open.
    mutating func load(_ entry: Entry) {
        bytes += entry.frameBytes
        if head == queue.count {
            queueInTimeOrder = true
        } else if let last = queue.last, entry.acceptedAt < last.acceptedAt {
            queueInTimeOrder = false
        }
        queue.append(entry)
        segments[entry.id.segment, default: Segment()].live += 1
    }

    /// No more appends go to the segment. True when nothing in it is live: delete it now.
    mutating func seal(_ segment: UInt64) -> Bool {
        guard var state = segments[segment] else { return false }
        state.sealed = true
        if state.live == 0 {
            segments[segment] = nil
            return true
        }
        segments[segment] = state
        return false
    }

    /// Up to `max` waiting records, oldest first; they are handed out until `complete`.
    mutating func take(max: Int) -> [Entry] {
        let count = Swift.min(Swift.max(max, 0), waiting)
        guard count > 0 else { return [] }
        let taken = Array(queue[head..<head + count])
        head += count
        for entry in taken { handedOut[entry.id] = entry }
        if head >= 1024, head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return taken
    }

    /// A handed-out record was delivered or dead-lettered.
    mutating func complete(_ id: SpoolRecordID) -> Completion {
        guard let entry = handedOut.removeValue(forKey: id) else { return .ignored }
        bytes -= entry.frameBytes
        guard var segment = segments[id.segment] else { return .markDone(id) }
        segment.live -= 1
        if segment.live == 0, segment.sealed {
            segments[id.segment] = nil
            return .deleteSegment(id.segment)
        }
        segments[id.segment] = segment
        return .markDone(id)
    }
}
