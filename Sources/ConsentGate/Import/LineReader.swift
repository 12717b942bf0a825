#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file in large chunks and hands out its lines one at a time, without their `\n`, so a
/// file of a million lines never sits in memory as one string.
///
/// Plain blocking `read(2)`: the importer is a command-line tool, and a 4 MiB read from the page cache
/// takes about a millisecond.
struct LineReader: ~Copyable {
    /// Why the file could not be read: `errno`'s text, or a line too long.
    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        /// The line that could not be read whole, for a line too long.
        var line: Int?
    }

    /// The longest line accepted: the buffer's size.
    let capacity: Int
    /// The number of the line last returned by ``nextLine()`` (1-based).
    private(set) var lineNumber = 0

    private let descriptor: Int32
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    /// The unread bytes are `buffer[start..<end]`.
    private var start = 0
    private var end = 0
    private var reachedEnd = false

    init(path: String, capacity: Int = 4 << 20) throws(Failure) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(path): \(Self.errorText())") }
        self.descriptor = descriptor
        self.capacity = capacity
        self.buffer = .allocate(capacity: capacity)
    }

    deinit {
        _ = close(descriptor)
        buffer.deallocate()
    }

    /// The next line, or `nil` at the end of the file. The bytes are valid until the next call.
    /// A last line without a final `\n` counts as a line.
    /// - Throws: ``Failure`` when reading fails or a line is longer than ``capacity``.
    mutating func nextLine() throws(Failure) -> UnsafeBufferPointer<UInt8>? {
        while true {
            if start < end, let base = buffer.baseAddress,
                let newline = memchr(base + start, Int32(UInt8(ascii: "\n")), end - start)
            {
                let lineEnd = base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
                let line = UnsafeBufferPointer(rebasing: buffer[start..<lineEnd])
                start = lineEnd + 1
                lineNumber += 1
                return line
            }
            if reachedEnd {
                guard start < end else { return nil }
                let line = UnsafeBufferPointer(rebasing: buffer[start..<end])
                start = end
                lineNumber += 1
                return line
            }
            try refill()
        }
    }

    /// Moves the unread partial line to the front of the buffer and reads after it.
    private mutating func refill() throws(Failure) {
        if start > 0 {
            if let base = buffer.baseAddress, end > start {
                memmove(base, base + start, end - start)
            }
            end -= start
            start = 0
        }
        guard end < capacity else {
            let limit = capacity >= 1 << 20 ? "\(capacity >> 20) MiB" : "\(capacity) bytes"
            throw Failure(description: "longer than \(limit)", line: lineNumber + 1)
        }
        guard let base = buffer.baseAddress else { throw Failure(description: "cannot read the file: no buffer") }
        while true {
            let count = read(descriptor, base + end, capacity - end)
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "cannot read the file: \(Self.errorText())")
            }
            if count == 0 { reachedEnd = true }
            end += count
            return
        }
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
