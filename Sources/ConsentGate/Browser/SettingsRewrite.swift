import SegmentWire

/// analytics.js's settings document (`GET /v1/projects/{writeKey}/settings`), rewritten before it
/// reaches the page, so that the page sends every event to consentgate and loads no destination script
/// that would send around it.
///
/// - `integrations["Segment.io"].apiHost` and `.protocol` become ``Options/apiHost`` and
///   ``Options/apiProtocol`` (added when absent, and a `Segment.io` entry or `integrations` object made
///   when the document has none: analytics.js sends to `api.segment.io/v1` by default);
///   `metrics.host`, when present, becomes ``Options/apiHost`` too (analytics.js's telemetry, `/v1/m`).
/// - With ``Options/blocksDeviceMode``, every `integrations` entry that analytics.js would load as a
///   script in the page (``isDeviceMode(_:in:)``) and every `remotePlugins` entry is removed, except those
///   named in ``Options/allowed`` (by integration name, or a remote plugin's `name` or `creationName`).
/// - Everything else passes through byte for byte, in order: the edited values are spliced into the
///   original text. An `integrations` object or `remotePlugins` array that loses entries is rebuilt
///   from its kept members' original text (only the white space between them changes).
///
/// Why not Foundation: `JSONSerialization` neither keeps member order nor a number's or string's text
/// (`1.0` becomes `1`, escapes are rewritten), and the page must get Segment's document unchanged but for
/// these fields. The document is read with the request path's own validator (``JSONMembers``); a document
/// that is not valid JSON is refused rather than guessed at.
enum SettingsRewrite {
    /// How the document is rewritten (`browser.*` in the configuration).
    struct Options: Sendable, Hashable {
        /// `browser.api_host`, e.g. `t.example.com/v1`.
        var apiHost: String
        /// `browser.api_protocol`: `https` or `http`.
        var apiProtocol: String = "https"
        /// `browser.device_mode: block`.
        var blocksDeviceMode: Bool = true
        /// `browser.device_mode_allow`: integration names or `creationName`s kept under `block`.
        var allowed: Set<String> = []
    }

    /// The rewritten document and the destinations it no longer names.
    struct Result: Sendable, Equatable {
        var bytes: [UInt8]
        /// Removed `integrations` entries and `remotePlugins` (by `name`), in document order. Destination
        /// names are the workspace's configuration, not personal data.
        var removed: [String]
    }

    /// Why a document could not be rewritten: where, and what was wrong (never the document's text).
    typealias Failure = JSONTextReader.Failure

    /// Rewrites `document` as the type's doc says.
    /// - Throws: when it is not valid JSON or not an object: a page must never get an unrewritten copy.
    static func rewrite(_ document: [UInt8], options: Options) throws(Failure) -> Result {
        try document.withUnsafeBufferPointer { (bytes) throws(Failure) -> Result in
            let json = JSONMembers(bytes: bytes)
            guard let top = try json.document() else { throw Failure(offset: 0, reason: "the settings document is not a JSON object") }
            var splice = Splice(bytes: bytes)
            var removed: [String] = []
            var sawIntegrations = false
            for member in top.members {
                switch member.name {
                case "integrations":
                    sawIntegrations = true
                    let replacement = try integrations(member.value, json, options, removed: &removed)
                    splice.replace(member.value, with: replacement)
                case "metrics":
                    guard let metrics = try json.object(at: member.value.lowerBound, depth: 1) else { continue }
                    for host in metrics.members where host.name == "host" {
                        splice.replace(host.value, with: quoted(options.apiHost))
                    }
                case "remotePlugins" where options.blocksDeviceMode:
                    guard let plugins = try json.array(at: member.value.lowerBound, depth: 1) else { continue }
                    var kept: [Range<Int>] = []
                    for plugin in plugins {
                        let names = try pluginNames(plugin, json)
                        if names.contains(where: options.allowed.contains) {
                            kept.append(plugin)
                        } else {
                            removed.append(names.first ?? "(unnamed remote plugin)")
                        }
                    }
                    if kept.count < plugins.count { splice.replace(member.value, with: joined(kept, in: bytes, open: "[", close: "]")) }
                default:
                    continue
                }
            }
            if !sawIntegrations {
                let member = quoted("integrations") + Array(":".utf8) + freshIntegrations(options)
                splice.insert((top.members.isEmpty ? [] : Array(",".utf8)) + member, at: top.closingBrace)
            }
            return Result(bytes: splice.apply(), removed: removed)
        }
    }

    /// The device-mode rule of analytics-next (`isInstallableIntegration` in
    /// `plugins/ajs-destination/utils.ts`): an entry is loaded as a script in the page when its
    /// `bundlingStatus` is not `"unbundled"` (absent counts as bundled) and its `type` is `"browser"` or
    /// its `versionSettings.componentTypes` includes `"browser"`. analytics.js also skips `Iterable` and
    /// names starting with `Segment`; under `block` they are removed all the same when the rule holds
    /// (older builds of analytics.js loaded them), except `Segment.io`, the sender itself.
    /// A value that is not an object is never loaded.
    static func isDeviceMode(_ entry: Range<Int>, in json: JSONMembers) throws(Failure) -> Bool {
        guard let object = try json.object(at: entry.lowerBound, depth: 2) else { return false }
        if let bundling = object.last("bundlingStatus"), json.string(bundling.value) == "unbundled" { return false }
        if let type = object.last("type"), json.string(type.value) == "browser" { return true }
        guard let versionSettings = object.last("versionSettings"),
            let settings = try json.object(at: versionSettings.value.lowerBound, depth: 3),
            let componentTypes = settings.last("componentTypes")
        else { return false }
        // `includes` on an array compares elements; on a string (a malformed document) it finds a substring.
        if let text = json.string(componentTypes.value) { return text.contains("browser") }
        guard let types = try json.array(at: componentTypes.value.lowerBound, depth: 4) else { return false }
        return types.contains { json.string($0) == "browser" }
    }

    // MARK: - The parts

    /// The `integrations` value rewritten: `Segment.io` pointed at consentgate, device-mode entries
    /// removed under `block`; a value that is not an object is replaced by one holding only `Segment.io`.
    private static func integrations(
        _ value: Range<Int>, _ json: JSONMembers, _ options: Options, removed: inout [String]
    ) throws(Failure) -> [UInt8] {
        guard let object = try json.object(at: value.lowerBound, depth: 1) else { return freshIntegrations(options) }
        // The kept members (the sender rewritten in place), as edits to the original text.
        var splice = Splice(bytes: json.bytes)
        var kept: [Range<Int>] = []
        var sawSender = false
        for entry in object.members {
            if entry.name == "Segment.io" {
                sawSender = true
                splice.replace(entry.value, with: try sender(entry.value, json, options))
                kept.append(entry.start..<entry.value.upperBound)
            } else if options.blocksDeviceMode, !options.allowed.contains(entry.name), try isDeviceMode(entry.value, in: json) {
                removed.append(entry.name)
            } else {
                kept.append(entry.start..<entry.value.upperBound)
            }
        }
        // Nothing removed and the sender already there: the original text, white space and all.
        if sawSender, kept.count == object.members.count { return splice.apply(value) }
        var parts = kept.map { splice.apply($0) }
        if !sawSender { parts.append(quoted("Segment.io") + Array(":".utf8) + freshSender(options)) }
        return Array("{".utf8) + parts.joined(separator: Array(",".utf8)) + Array("}".utf8)
    }

    /// The `Segment.io` entry with `apiHost` and `protocol` set (every occurrence, since `JSON.parse`
    /// keeps the last; added at its end when absent).
    private static func sender(_ value: Range<Int>, _ json: JSONMembers, _ options: Options) throws(Failure) -> [UInt8] {
        guard let object = try json.object(at: value.lowerBound, depth: 2) else { return freshSender(options) }
        let settings = [("apiHost", options.apiHost), ("protocol", options.apiProtocol)]
        var splice = Splice(bytes: json.bytes)
        for member in object.members {
            guard let setting = settings.first(where: { $0.0 == member.name }) else { continue }
            splice.replace(member.value, with: quoted(setting.1))
        }
        let missing = settings.filter { setting in !object.members.contains { $0.name == setting.0 } }
        if !missing.isEmpty {
            let added = missing.map { quoted($0.0) + Array(":".utf8) + quoted($0.1) }.joined(separator: Array(",".utf8))
            splice.insert((object.members.isEmpty ? [] : Array(",".utf8)) + added, at: object.closingBrace)
        }
        return splice.apply(value)
    }

    /// A remote plugin's `name` and `creationName`, the names ``Options/allowed`` matches.
    private static func pluginNames(_ plugin: Range<Int>, _ json: JSONMembers) throws(Failure) -> [String] {
        guard let object = try json.object(at: plugin.lowerBound, depth: 2) else { return [] }
        return ["name", "creationName"].compactMap { key in object.last(key).flatMap { json.string($0.value) } }
    }

    private static func freshSender(_ options: Options) -> [UInt8] {
        Array("{".utf8) + quoted("apiHost") + Array(":".utf8) + quoted(options.apiHost) + Array(",".utf8)
            + quoted("protocol") + Array(":".utf8) + quoted(options.apiProtocol) + Array("}".utf8)
    }

    private static func freshIntegrations(_ options: Options) -> [UInt8] {
        Array("{".utf8) + quoted("Segment.io") + Array(":".utf8) + freshSender(options) + Array("}".utf8)
    }

    private static func joined(_ ranges: [Range<Int>], in bytes: UnsafeBufferPointer<UInt8>, open: String, close: String) -> [UInt8] {
        Array(open.utf8) + ranges.map { Array(bytes[$0]) }.joined(separator: Array(",".utf8)) + Array(close.utf8)
    }

    private static func quoted(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        JSONString.appendQuoted(text, to: &out)
        return out
    }
}

/// Edits to a document as (range, replacement) pairs, applied in one pass that copies every other byte.
private struct Splice {
    let bytes: UnsafeBufferPointer<UInt8>
    private var edits: [(range: Range<Int>, bytes: [UInt8])] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func replace(_ range: Range<Int>, with replacement: [UInt8]) { edits.append((range, replacement)) }
    mutating func insert(_ addition: [UInt8], at offset: Int) { edits.append((offset..<offset, addition)) }

    /// The bytes of `range` (the whole document by default) with the edits that lie inside it applied;
    /// edits never overlap.
    func apply(_ range: Range<Int>? = nil) -> [UInt8] {
        let range = range ?? 0..<bytes.count
        var out: [UInt8] = []
        out.reserveCapacity(range.count + edits.reduce(0) { $0 + $1.bytes.count })
        var position = range.lowerBound
        let inside = edits.filter { $0.range.lowerBound >= range.lowerBound && $0.range.upperBound <= range.upperBound }
        for edit in inside.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            out.append(contentsOf: bytes[position..<edit.range.lowerBound])
            out.append(contentsOf: edit.bytes)
            position = edit.range.upperBound
        }
        out.append(contentsOf: bytes[position..<range.upperBound])
        return out
    }
}
