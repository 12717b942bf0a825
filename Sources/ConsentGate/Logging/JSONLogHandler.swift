import FoundationEssentials
public import Logging
import SegmentWire
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A swift-log handler that writes one JSON object per line to standard error:
/// `{"timestamp":"...","level":"info","label":"consentgate","message":"...","metadata":{...}}`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = Logger.Metadata.forLine(own: metadata, provider: metadataProvider, line: event.metadata)
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: #"{"timestamp":"#.utf8)
        JSONString.appendQuoted(Date.now.formatted(.iso8601), to: &out)
        out.append(contentsOf: #","level":"#.utf8)
        JSONString.appendQuoted(event.level.rawValue, to: &out)
        out.append(contentsOf: #","label":"#.utf8)
        JSONString.appendQuoted(label, to: &out)
        out.append(contentsOf: #","message":"#.utf8)
        JSONString.appendQuoted(event.message.description, to: &out)
        if !merged.isEmpty {
            out.append(contentsOf: #","metadata":{"#.utf8)
            for (index, key) in merged.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.appendQuoted(key, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONString.appendQuoted(merged[key]!.description, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "}\n".utf8)
        StandardError.write(out)
    }
}

/// Whole-line writes to standard error, so concurrent log lines never interleave.
enum StandardError {
    private static let lock = Mutex(())

    static func write(_ bytes: [UInt8]) {
        lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { if errno == EINTR { continue } else { return } }
                    offset += written
                }
            }
        }
    }
}
