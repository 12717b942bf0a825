import Foundation
import Testing

@testable import Spool

@Suite struct SpoolWriterTests {
    /// An operator reading `top -H` or `/proc/PID/task/*/comm` sees the writer under its own name, not under
    /// the name of the thread that opened the log (what a Linux thread inherits).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/task")))
    func theWriterThreadCarriesItsName() async throws {
        let directory = try TemporaryDirectory()
        let log = try SpoolLog.open(configuration(directory))
        _ = try await log.append(sampleBatch(0))  // the writer has run: its name is set
        let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { task in
            try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(names.contains(SpoolWriter.threadName), "\(Set(names))")
        #expect(SpoolWriter.threadName.utf8.count <= 15, "the kernel keeps 15 bytes of a thread's name")
        await log.close()
    }
}
