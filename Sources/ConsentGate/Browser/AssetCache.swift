import NIOCore

/// The in-memory cache of what consentgate serves analytics.js from its CDN (the rewritten settings,
/// the library, bundles), as a value-type state machine: time comes in as `now:`, it does no I/O, and it
/// answers each event with what its driver (``BrowserAssets``) must do.
///
/// ```
/// Per key:           lookup → .fetch                     finish(.fetched)
///          absent ──────────────────▶ fetching ────────────────────────────▶ fresh
///            ▲                        │  ▲  lookup → .join (single flight)     │ lookup → .hit
///            │  finish(.failed) with  │  │                                     │ now ≥ freshUntil
///            │  no copy young enough  │  │  lookup → .fetch(validator:)        ▼
///            └─ (.unavailable) ───────┘  └───────────────────────────────── stale
///   fetching → fresh on finish(.notModified) (.revalidated);
///   fetching → stale on finish(.failed) while now < freshUntil + staleIfError (served: .stale);
///   stale past freshUntil + staleIfError, or evicted (least recently used first) → absent.
/// ```
///
/// One fetch per key at a time (single flight): a lookup while a fetch is out gets `.join` with its
/// flight, and every joined request is served what the fetch brought. Memory is bounded by
/// ``maxBytes``: storing beyond it evicts the least recently used entries first; a body larger than the
/// whole bound is served but not kept.
struct AssetCache: Sendable {
    typealias Instant = ContinuousClock.Instant

    /// One stored answer of the CDN (for the settings: the rewritten document).
    struct Entry: Sendable, Hashable {
        /// 200 for what is kept; a CDN's 4xx is served once and never kept.
        var status: Int = 200
        var body: ByteBuffer
        var contentType: String?
        /// `gzip` when ``body`` is gzip, `nil` for identity.
        var contentEncoding: String?
        /// `Cache-Control` for the clients.
        var cacheControl: String?
        /// consentgate's own (weak) ETag of ``body``.
        var etag: String
        /// The CDN's `ETag`, sent back as `If-None-Match` to revalidate.
        var validator: String?
        /// How long it stays fresh from the moment it is stored or revalidated.
        var freshFor: Duration
    }

    /// A fetch in flight, named so that late or repeated finishes cannot be confused.
    struct FlightID: Sendable, Hashable {
        var rawValue: UInt64
    }

    /// What the driver does for a request.
    enum Lookup: Sendable, Hashable {
        /// Serve this fresh entry.
        case hit(Entry)
        /// Fetch from the CDN (with `If-None-Match: validator` when there is one), then ``finish(_:_:now:)``.
        case fetch(FlightID, key: String, validator: String?)
        /// Wait for this flight's result.
        case join(FlightID)
    }

    /// What a fetch brought.
    enum FetchResult: Sendable, Hashable {
        /// A new answer; `store: false` for one that must not be kept (an error page, `no-store`).
        case fetched(Entry, store: Bool)
        /// `304 Not Modified` for the validator sent: the stored entry is fresh again for `freshFor`
        /// (`nil`: for as long as it was before, when the 304 does not say).
        case notModified(freshFor: Duration?)
        /// No usable answer (no connection, a timeout, a 5xx, a document that cannot be rewritten).
        case failed
    }

    /// How a request was served (the metric's `outcome` label).
    enum Outcome: String, Sendable, Hashable, CaseIterable {
        case hit, miss, revalidated, stale, error
    }

    /// What every request of a flight is served.
    enum Served: Sendable, Hashable {
        case entry(Entry, Outcome)
        /// Nothing to serve: the CDN failed and no copy is young enough.
        case unavailable
    }

    private struct Slot: Sendable {
        var entry: Entry
        var freshUntil: Instant
        var lastUsed: UInt64
    }

    /// The bound on stored body bytes.
    let maxBytes: Int
    /// How long past its freshness a copy may still be served when the CDN fails.
    let staleIfError: Duration

    private var slots: [String: Slot] = [:]
    private var flights: [String: FlightID] = [:]
    private var flightKeys: [FlightID: String] = [:]
    private var nextFlight: UInt64 = 0
    private var tick: UInt64 = 0
    /// Bytes of every stored body.
    private(set) var storedBytes = 0
    /// Entries evicted to stay under ``maxBytes``, since start.
    private(set) var evictions = 0

    init(maxBytes: Int, staleIfError: Duration) {
        self.maxBytes = maxBytes
        self.staleIfError = staleIfError
    }

    /// Stored entries.
    var count: Int { slots.count }

    /// A request for `key`.
    mutating func lookup(_ key: String, now: Instant) -> Lookup {
        if let flight = flights[key] { return .join(flight) }
        if let slot = slots[key] {
            if now < slot.freshUntil {
                tick += 1
                slots[key]?.lastUsed = tick
                return .hit(slot.entry)
            }
            if now >= slot.freshUntil + staleIfError { remove(key) }
        }
        nextFlight += 1
        let flight = FlightID(rawValue: nextFlight)
        flights[key] = flight
        flightKeys[flight] = key
        return .fetch(flight, key: key, validator: slots[key]?.entry.validator)
    }

    /// The end of a fetch: what its requests (the one that fetched and every one that joined) are served.
    /// A flight finished twice, or unknown, is served nothing and changes nothing.
    mutating func finish(_ flight: FlightID, _ result: FetchResult, now: Instant) -> Served {
        guard let key = flightKeys.removeValue(forKey: flight) else { return .unavailable }
        flights[key] = nil
        switch result {
        case .fetched(let entry, let store):
            if store {
                self.store(entry, key: key, now: now)
            } else {
                remove(key)
            }
            return .entry(entry, .miss)
        case .notModified(let freshFor):
            guard var slot = slots[key] else { return .unavailable }
            tick += 1
            slot.entry.freshFor = freshFor ?? slot.entry.freshFor
            slot.freshUntil = now + slot.entry.freshFor
            slot.lastUsed = tick
            slots[key] = slot
            return .entry(slot.entry, .revalidated)
        case .failed:
            guard let slot = slots[key] else { return .unavailable }
            guard now < slot.freshUntil + staleIfError else {
                remove(key)
                return .unavailable
            }
            return .entry(slot.entry, .stale)
        }
    }

    private mutating func store(_ entry: Entry, key: String, now: Instant) {
        remove(key)
        guard entry.body.readableBytes <= maxBytes else { return }
        while storedBytes + entry.body.readableBytes > maxBytes, let oldest = slots.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            remove(oldest)
            evictions += 1
        }
        tick += 1
        slots[key] = Slot(entry: entry, freshUntil: now + entry.freshFor, lastUsed: tick)
        storedBytes += entry.body.readableBytes
    }

    private mutating func remove(_ key: String) {
        guard let slot = slots.removeValue(forKey: key) else { return }
        storedBytes -= slot.entry.body.readableBytes
    }
}
