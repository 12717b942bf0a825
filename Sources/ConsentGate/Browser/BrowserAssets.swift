import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SegmentWire
import Synchronization

/// First-party analytics.js: serves what analytics.js asks its CDN for from the ingress listener, through
/// the ``AssetCache`` (the driver of that machine: it performs the fetches it asks for, one per key at a
/// time, and hands every joined request the same result). The settings document is rewritten
/// (``SettingsRewrite``) once per fetch; everything else passes through byte for byte.
final class BrowserAssets: Sendable {
    struct Settings: Sendable {
        var rewrite: SettingsRewrite.Options
        /// `browser.settings_cache_seconds`.
        var settingsFreshFor: Duration
        /// The largest body taken from the CDN (and inflated for a client that does not take gzip).
        var maxBodyBytes = 16 << 20
        /// The gzip level of a rewritten settings document (compressed once per fetch).
        var gzipLevel: Int32 = 6
    }

    /// What a request is served: an entry (with how), or nothing (the CDN failed, no copy kept).
    typealias Served = AssetCache.Served

    private struct State: Sendable {
        var cache: AssetCache
        var flights: [AssetCache.FlightID: Task<Served, Never>] = [:]
    }

    let settings: Settings
    private let cdn: CDNClient
    private let state: Mutex<State>
    private let metrics: GatewayMetrics
    private let warning: RateLimitedWarning

    init(settings: Settings, cdn: CDNClient, cache: AssetCache, metrics: GatewayMetrics, logger: Logger) {
        self.settings = settings
        self.cdn = cdn
        self.state = Mutex(State(cache: cache))
        self.metrics = metrics
        self.warning = RateLimitedWarning("first-party analytics.js: the CDN failed", logger: logger)
    }

    /// The CDN's base URL, for the log at start.
    var cdnDescription: String { cdn.base }

    /// The cached or fetched answer for `route` at `path` (single flight per path), counted by kind and outcome.
    func fetch(_ kind: BrowserRoute.Kind, path: String) async -> Served {
        enum Step {
            case hit(AssetCache.Entry)
            case wait(Task<Served, Never>)
        }
        let step: Step = state.withLock { state in
            switch state.cache.lookup(path, now: .now) {
            case .hit(let entry):
                return .hit(entry)
            case .fetch(let flight, let key, let validator):
                let task = Task { await self.fill(flight, kind: kind, key: key, validator: validator) }
                state.flights[flight] = task
                return .wait(task)
            case .join(let flight):
                // A flight's task is registered under the same lock as the lookup that started it.
                return .wait(state.flights[flight]!)
            }
        }
        let served: Served
        switch step {
        case .hit(let entry): served = .entry(entry, .hit)
        case .wait(let task): served = await task.value
        }
        switch served {
        case .entry(_, let outcome): metrics.browserAsset(kind: kind, outcome: outcome)
        case .unavailable: metrics.browserAsset(kind: kind, outcome: .error)
        }
        return served
    }

    /// Closes the CDN client.
    func shutdown() async {
        await cdn.shutdown()
    }

    // MARK: - One fetch

    private func fill(_ flight: AssetCache.FlightID, kind: BrowserRoute.Kind, key: String, validator: String?) async -> Served {
        let answer = await cdn.get(path: key, validator: validator)
        let result = outcome(of: answer, kind: kind, revalidating: validator != nil)
        return state.withLock { state in
            state.flights[flight] = nil
            return state.cache.finish(flight, result, now: .now)
        }
    }

    /// What a CDN answer means for the cache.
    private func outcome(of answer: CDNClient.Answer, kind: BrowserRoute.Kind, revalidating: Bool) -> AssetCache.FetchResult {
        switch answer {
        case .failed(let reason):
            warning.emit([LogKey.reason: "\(reason)", LogKey.assetKind: "\(kind.rawValue)"])
            return .failed
        case .replied(304, let headers, _) where revalidating:
            // A 304 without `Cache-Control` keeps the copy's lifetime; one that forbids keeping revalidates each time.
            let refreshed = kind == .settings || headers.first(name: "Cache-Control") != nil ? lifetime(kind, headers) ?? .zero : nil
            return .notModified(freshFor: refreshed)
        case .replied(let status, let headers, let body) where (200..<300).contains(status):
            if kind == .settings { return settingsEntry(body, headers) }
            let lifetime = lifetime(kind, headers)
            return .fetched(
                AssetCache.Entry(
                    status: status, body: body, contentType: headers.first(name: "Content-Type"),
                    contentEncoding: headers.first(name: "Content-Encoding"), cacheControl: headers.first(name: "Cache-Control"),
                    etag: HTTPCaching.etag(of: Array(buffer: body)), validator: headers.first(name: "ETag"), freshFor: lifetime ?? .zero),
                store: lifetime != nil)
        case .replied(let status, let headers, let body) where (400..<500).contains(status):
            // The CDN's own answer (a path it does not have): relayed, never kept.
            return .fetched(
                AssetCache.Entry(
                    status: status, body: body, contentType: headers.first(name: "Content-Type"),
                    contentEncoding: headers.first(name: "Content-Encoding"), cacheControl: "no-store", etag: "", validator: nil,
                    freshFor: .zero),
                store: false)
        case .replied(let status, _, _):
            warning.emit([LogKey.status: "\(status)", LogKey.assetKind: "\(kind.rawValue)"])
            return .failed
        }
    }

    /// How long an answer stays fresh: `browser.settings_cache_seconds` for settings, else the CDN's
    /// `Cache-Control` (`nil`: not to be kept).
    private func lifetime(_ kind: BrowserRoute.Kind, _ headers: HTTPHeaders) -> Duration? {
        if kind == .settings { return settings.settingsFreshFor }
        return HTTPCaching.sharedLifetime(cacheControl: headers.first(name: "Cache-Control")).map { .seconds($0) }
    }

    /// The settings document rewritten, kept gzip-compressed (every browser takes gzip); a document that
    /// cannot be read counts as a CDN failure, so the page never gets an unrewritten copy.
    private func settingsEntry(_ body: ByteBuffer, _ headers: HTTPHeaders) -> AssetCache.FetchResult {
        let coding = ContentCoding(headerValue: headers.first(name: "Content-Encoding") ?? "") ?? .identity
        let document: [UInt8]
        do throws(WireError) {
            document = try body.withUnsafeReadableBytes { (raw) throws(WireError) in
                coding == .identity ? Array(raw) : try Inflater.inflate(raw, coding: coding, limit: settings.maxBodyBytes)
            }
        } catch {
            warning.emit([LogKey.reason: "settings document: \(error.code.rawValue)", LogKey.assetKind: "settings"])
            return .failed
        }
        let rewritten: SettingsRewrite.Result
        do throws(SettingsRewrite.Failure) {
            rewritten = try SettingsRewrite.rewrite(document, options: settings.rewrite)
        } catch {
            warning.emit([LogKey.reason: "settings document: \(error.reason) at byte \(error.offset)", LogKey.assetKind: "settings"])
            return .failed
        }
        metrics.destinationsRemoved(rewritten.removed.count)
        let gzipped = rewritten.bytes.withUnsafeBytes { Gzip.compress($0, level: settings.gzipLevel) }
        let seconds = settings.settingsFreshFor.components.seconds
        return .fetched(
            AssetCache.Entry(
                status: 200, body: ByteBuffer(bytes: gzipped), contentType: "application/json", contentEncoding: "gzip",
                cacheControl: "public, max-age=\(seconds)", etag: HTTPCaching.etag(of: rewritten.bytes),
                validator: headers.first(name: "ETag"), freshFor: settings.settingsFreshFor),
            store: true)
    }

    // MARK: - The answer

    /// The response for what was served: 304 when the client's `If-None-Match` names its ETag, the body
    /// gzip when stored so and the client takes it (inflated otherwise), with CORS and the request id
    /// (`base`). `nil` when nothing can be served.
    func response(_ served: Served, ifNoneMatch: String?, acceptEncoding: String?, headers base: HTTPFields) -> Response? {
        guard case .entry(let entry, _) = served else { return nil }
        var headers = base
        headers[.vary] = base[.vary].map { $0 + ", Accept-Encoding" } ?? "Accept-Encoding"
        if let cacheControl = entry.cacheControl { headers[.cacheControl] = cacheControl }
        if entry.status == 200 {
            headers[.eTag] = entry.etag
            if HTTPCaching.matches(ifNoneMatch: ifNoneMatch, etag: entry.etag) {
                return Response(status: .notModified, headers: headers)
            }
        }
        if let contentType = entry.contentType { headers[.contentType] = contentType }
        var body = entry.body
        if let encoding = entry.contentEncoding {
            let isGzip = encoding.trimmingSpaces.lowercased() == "gzip"
            if isGzip, !HTTPCaching.acceptsGzip(acceptEncoding) {
                let inflated = body.withUnsafeReadableBytes { try? Inflater.inflate($0, coding: .gzip, limit: settings.maxBodyBytes) }
                if let inflated { body = ByteBuffer(bytes: inflated) } else { headers[.contentEncoding] = encoding }
            } else {
                headers[.contentEncoding] = encoding
            }
        }
        return Response(status: .init(code: entry.status), headers: headers, body: .init(byteBuffer: body))
    }
}
