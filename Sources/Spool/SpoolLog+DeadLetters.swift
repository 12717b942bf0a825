#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SpoolLog {
    /// Writes the batch to `directory/dead-letters/` (the batch, Segment's status and body, when, reason —
    /// see `SpoolDeadLetter`), then completes the record. The file is complete or absent after a crash.
    /// Blocks for one file write and two syncs (file and directory): call it from the deliverer's task,
    /// never from an event loop.
    public func deadLetter(
        _ id: SpoolRecordID, _ batch: SpooledBatch, status: Int?, responseBody: [UInt8], reason: String
    ) throws(SpoolError) {
        let now = SpoolWriter.wallClockMilliseconds()
        let name = "\(now)-\(id.segment)-\(id.offset)\(SpoolDeadLetter.suffix)"
        let letter = SpoolDeadLetter(
            name: name, batch: batch, status: status, responseBody: responseBody, reason: reason, deadAtMilliseconds: now)
        let bytes = letter.encode()
        let directory = deadLettersDirectory
        let syncs = try SpoolFiles.writeAtomically(
            bytes, to: directory + "/" + name, directory: directory, temporary: directory + "/" + name + ".tmp")
        shared.withLockSignalling { state in
            state.statistics.fsyncs += syncs
            state.deadLetters += 1
            state.deadLetterBytes += Int64(bytes.count)
            state.complete(id)
        }
    }

    /// Appends every dead letter back to the log (durably) and removes it from `dead-letters/`, oldest
    /// first, a group at a time (so they share commits). Returns the count. A file that cannot be read as a
    /// dead letter stays where it is. On an error (`.full`, `.io`) the ones requeued so far are removed and
    /// the error is thrown; a crash between an append and the removal requeues that letter twice.
    public func requeueDeadLetters() async throws(SpoolError) -> Int {
        let directory = deadLettersDirectory
        let names = try SpoolFiles.list(directory).filter { $0.hasSuffix(SpoolDeadLetter.suffix) }.sorted()
        var requeued = 0
        var failure: SpoolError?
        for group in stride(from: 0, to: names.count, by: 64).map({ names[$0..<min($0 + 64, names.count)] }) {
            var letters: [(name: String, batch: SpooledBatch, bytes: Int64)] = []
            for name in group {
                let path = directory + "/" + name
                guard let fd = try? SpoolFiles.openFile(path, O_RDONLY) else { continue }
                defer { SpoolFiles.closeFile(fd) }
                guard let size = try? SpoolFiles.size(fd, path),
                    let bytes = try? SpoolFiles.read(fd, count: Int(size), at: 0, path),
                    let letter = try? SpoolDeadLetter.decode(bytes, name: name)
                else { continue }
                letters.append((name, letter.batch, Int64(bytes.count)))
            }
            let results = await withTaskGroup(of: (Int, Result<SpoolRecordID, SpoolError>).self) { group in
                for (position, letter) in letters.enumerated() {
                    group.addTask {
                        do throws(SpoolError) {
                            return (position, .success(try await self.append(letter.batch)))
                        } catch {
                            return (position, .failure(error))
                        }
                    }
                }
                var results: [(Int, Result<SpoolRecordID, SpoolError>)] = []
                for await result in group { results.append(result) }
                return results.sorted { $0.0 < $1.0 }
            }
            for (position, result) in results {
                switch result {
                case .success:
                    let letter = letters[position]
                    try SpoolFiles.removeFile(directory + "/" + letter.name)
                    requeued += 1
                    shared.withLock { state in
                        state.deadLetters -= 1
                        state.deadLetterBytes -= letter.bytes
                    }
                case .failure(let error):
                    failure = failure ?? error
                }
            }
            if failure != nil { break }
        }
        if requeued > 0 {
            try SpoolFiles.syncDirectory(directory)
            shared.withLock { $0.statistics.fsyncs += 1 }
        }
        if let failure { throw failure }
        return requeued
    }

    /// Every dead letter in a spool's directory, oldest first, read without the lock (for the CLI).
    /// Files that are not dead letters this build can read are left out.
    public static func deadLetters(directory: String) throws(SpoolError) -> [SpoolDeadLetter] {
        let deadLetters = directory + "/" + SpoolDirectory.deadLettersName
        guard SpoolFiles.exists(deadLetters) else { return [] }
        return try SpoolFiles.list(deadLetters).filter { $0.hasSuffix(SpoolDeadLetter.suffix) }.sorted().compactMap { name in
            let path = deadLetters + "/" + name
            guard let fd = try? SpoolFiles.openFile(path, O_RDONLY) else { return nil }
            defer { SpoolFiles.closeFile(fd) }
            guard let size = try? SpoolFiles.size(fd, path),
                let bytes = try? SpoolFiles.read(fd, count: Int(size), at: 0, path)
            else { return nil }
            return try? SpoolDeadLetter.decode(bytes, name: name)
        }
    }

    var deadLettersDirectory: String {
        configuration.directory + "/" + SpoolDirectory.deadLettersName
    }
}
