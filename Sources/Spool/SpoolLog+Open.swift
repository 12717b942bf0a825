#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SpoolLog {
    /// Takes an exclusive lock (`flock` on `directory/LOCK`; `.locked` if another open log holds it, in this
    /// process or another), creates the directory, cuts torn/corrupt tails at the last whole record, loads
    /// which records are done, deletes segments that are all done, and starts a new segment for appends.
    public static func open(_ configuration: SpoolConfiguration) throws(SpoolError) -> SpoolLog {
        let directory = configuration.directory
        let deadLetters = directory + "/" + SpoolDirectory.deadLettersName
        try SpoolFiles.makeDirectory(deadLetters)
        let lockFD = try SpoolFiles.lock(directory + "/" + SpoolDirectory.lockName)
        var readers: [UInt64: Int32] = [:]
        do {
            var state = SpoolState(index: SpoolIndex(maxBytes: configuration.maxBytes))
            let contents = try SpoolDirectory.contents(directory)
            for name in contents.temporary { try SpoolFiles.removeFile(directory + "/" + name) }
            for segment in contents.segments {
                if let fd = try recover(segment, in: directory, into: &state) { readers[segment] = fd }
            }
            for segment in contents.doneMarks where !contents.segments.contains(segment) {
                try SpoolFiles.removeFile(directory + "/" + SpoolDirectory.doneName(segment))
            }
            let (count, bytes) = try deadLetterFiles(deadLetters, removingTemporary: true)
            state.deadLetters = count
            state.deadLetterBytes = bytes

            let active = (contents.segments.last ?? 0) + 1
            let activeFD = try SpoolWriter.createSegment(active, in: directory)
            state.statistics.fsyncs += 2
            readers[active] = activeFD
            state.index.addSegment(active)
            state.readers = readers
            let shared = SpoolShared(state)
            SpoolWriter(shared: shared, configuration: configuration, lockFD: lockFD, active: active, activeFD: activeFD).start()
            return SpoolLog(configuration: configuration, shared: shared)
        } catch {
            for fd in readers.values { SpoolFiles.closeFile(fd) }
            SpoolFiles.closeFile(lockFD)
            throw error
        }
    }

    /// Loads one segment found on open: cuts a damaged tail, applies its done-marks, and either returns a
    /// descriptor to read its live records from or deletes it (nothing live in it).
    private static func recover(_ segment: UInt64, in directory: String, into state: inout SpoolState) throws(SpoolError) -> Int32? {
        let path = directory + "/" + SpoolDirectory.segmentName(segment)
        let donePath = directory + "/" + SpoolDirectory.doneName(segment)
        let fd = try SpoolFiles.openFile(path, O_RDWR)
        do {
            let scanned = try SpoolDirectory.scanSegment(fd, path, segment: segment)
            guard scanned.hasHeader else {
                // Segments are renamed into place only after their magic is synced, so this is damage:
                // set it aside (not deleted, not read) for whoever investigates.
                SpoolFiles.closeFile(fd)
                try SpoolFiles.renameFile(path, path + ".damaged")
                try SpoolFiles.removeFile(donePath)
                state.statistics.corruptRecords += 1
                state.statistics.cutBytes += scanned.size
                return nil
            }
            if scanned.validEnd < scanned.size {
                try SpoolFiles.truncate(fd, to: scanned.validEnd, path)
                try SpoolFiles.sync(fd, path)
                state.statistics.fsyncs += 1
                state.statistics.corruptRecords += 1
                state.statistics.cutBytes += scanned.size - scanned.validEnd
            }
            let marks = try SpoolDirectory.readDoneMarks(donePath)
            if Int64(marks.validCount) < marks.size {
                // Later marks must not be appended after a damaged one, where reading stops.
                let doneFD = try SpoolFiles.openFile(donePath, O_WRONLY)
                defer { SpoolFiles.closeFile(doneFD) }
                try SpoolFiles.truncate(doneFD, to: Int64(marks.validCount), donePath)
            }
            state.index.addSegment(segment)
            if scanned.key != SpoolFrame.key(segment: segment) { state.unkeyedSegments.insert(segment) }
            for record in scanned.records where !marks.offsets.contains(record.offset) {
                state.index.load(
                    SpoolIndex.Entry(
                        id: SpoolRecordID(segment: segment, offset: record.offset), frameBytes: record.frameBytes,
                        acceptedAt: record.acceptedAt))
                state.frameBytesSeen += record.frameBytes
                state.framesSeen += 1
            }
            if state.index.seal(segment) {
                SpoolFiles.closeFile(fd)
                try SpoolFiles.removeFile(path)
                try SpoolFiles.removeFile(donePath)
                return nil
            }
            return fd
        } catch {
            SpoolFiles.closeFile(fd)
            throw error
        }
    }

    /// The count and bytes of the dead letters in `directory`.
    static func deadLetterFiles(_ directory: String, removingTemporary: Bool) throws(SpoolError) -> (Int, Int64) {
        var count = 0
        var bytes: Int64 = 0
        for name in try SpoolFiles.list(directory) {
            if name.hasSuffix(SpoolDeadLetter.suffix) {
                count += 1
                bytes += SpoolFiles.fileSize(directory + "/" + name) ?? 0
            } else if removingTemporary, name.hasSuffix(".tmp") {
                try SpoolFiles.removeFile(directory + "/" + name)
            }
        }
        return (count, bytes)
    }

    /// Reads a spool's status without taking its lock (for `consentgate spool status` while a gateway
    /// runs). Changes nothing on disk: a tail being written, or a damaged one, is simply not counted.
    /// `.io` when the directory does not exist.
    public static func inspect(directory: String) throws(SpoolError) -> SpoolStatus {
        var status = SpoolStatus()
        var index = SpoolIndex(maxBytes: .max)
        let contents = try SpoolDirectory.contents(directory)
        for segment in contents.segments {
            let path = directory + "/" + SpoolDirectory.segmentName(segment)
            let fd: Int32
            do throws(SpoolError) {
                fd = try SpoolFiles.openFile(path, O_RDONLY)
            } catch {
                continue  // deleted by the running gateway since the listing
            }
            defer { SpoolFiles.closeFile(fd) }
            let scanned = try SpoolDirectory.scanSegment(fd, path, segment: segment)
            let donePath = directory + "/" + SpoolDirectory.doneName(segment)
            let marks = (try? SpoolDirectory.readDoneMarks(donePath)) ?? (offsets: [], validCount: 0, size: 0)
            status.segments += 1
            for record in scanned.records where !marks.offsets.contains(record.offset) {
                index.load(
                    SpoolIndex.Entry(
                        id: SpoolRecordID(segment: segment, offset: record.offset), frameBytes: record.frameBytes,
                        acceptedAt: record.acceptedAt))
            }
        }
        status.bytes = index.bytes
        status.batches = index.batches
        status.oldestAcceptedAtMilliseconds = index.oldestAcceptedAt
        let deadLetters = directory + "/" + SpoolDirectory.deadLettersName
        if SpoolFiles.exists(deadLetters) {
            (status.deadLetters, status.deadLetterBytes) = try deadLetterFiles(deadLetters, removingTemporary: false)
        }
        return status
    }
}
