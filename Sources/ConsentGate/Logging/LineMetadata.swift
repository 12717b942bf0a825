import Logging

extension Logger.Metadata {
    /// A log line's metadata as swift-log's own handlers merge it: the logger's, then the metadata
    /// provider's, then the line's, a later one winning on a repeated key.
    static func forLine(own: Logger.Metadata, provider: Logger.MetadataProvider?, line: Logger.Metadata?) -> Logger.Metadata {
        var merged = own
        if let provided = provider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let line, !line.isEmpty {
            merged.merge(line) { _, new in new }
        }
        return merged
    }
}
