import Logging

/// The metadata keys of the gateway's log lines, declared once (as postgres-nio's
/// `PSQLConnection.LoggerMetaDataKey` and Hummingbird's `hb.request.id`).
///
/// A value under any of these keys may never be a subject id (`userId`, `anonymousId`), a write key,
/// an IP address or payload bytes: name a source by its name, a subject not at all. New keys take the
/// `cg.` namespace; the older bare ones keep their names, which operators already query and which join
/// a warning to its audit records (`request_id`).
enum LogKey {
    /// The source's name (`default` for the top-level settings), never its write key.
    static let source = "cg.source"
    /// The request's `X-Request-Id`, as in the audit log.
    static let requestId = "request_id"
    /// Why an exchange failed (timeout, a connection error's code).
    static let reason = "reason"
    /// An upstream answer's HTTP status.
    static let status = "status"
    /// The consent store's kind.
    static let store = "store"
    /// How many events a warning covers.
    static let events = "events"
    /// The kind of a first-party analytics.js asset (`settings`, `library`, `bundle`), never its path (it may hold a write key).
    static let assetKind = "cg.asset_kind"
    /// A file path of the gateway's own (the audit log), never one from a request.
    static let path = "path"
}
