public import Logging

/// swift-log's `StreamLogHandler` (standard error, its line format), with the logger's metadata kept
/// as a dictionary until a line is written.
///
/// `StreamLogHandler` renders its metadata to a string every time an entry is set. Hummingbird sets a
/// request id on its logger for every request, so each batch paid for a rendering that a gateway at
/// `warning` never prints. Here a set is a dictionary write; the rendering happens in `log`, and only
/// for lines at or above the level.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private var stream: StreamLogHandler

    public var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    /// A handler writing to standard error.
    public init(label: String, level: Logger.Level) {
        self.init(label: label, level: level, stream: StreamLogHandler.standardError(label: label, metadataProvider: nil))
    }

    /// A handler writing through `stream` (a `StreamLogHandler` without a metadata provider: this
    /// handler merges the provider's metadata itself, in `StreamLogHandler`'s order).
    init(label: String, level: Logger.Level, stream: StreamLogHandler) {
        self.stream = stream
        self.metadataProvider = LoggingSystem.metadataProvider
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.metadata = .forLine(own: metadata, provider: metadataProvider, line: event.metadata)
        stream.log(event: event)
    }
}
