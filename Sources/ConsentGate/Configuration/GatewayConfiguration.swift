public import ClientAddress
public import ConsentCore
public import SegmentWire

/// The whole configuration of a gateway, read once at start (see ``GatewayConfiguration/load(reader:)``).
///
/// Every property has a default, so an empty file is a valid development configuration.
public struct GatewayConfiguration: Sendable, Hashable {
    public var ingress = Ingress()
    public var upstream = Upstream()
    public var admin = Admin()
    public var store = Store()
    public var cache = Cache()
    public var policy = Policy()
    public var audit = Audit()
    public var log = Log()
    public var shutdown = Shutdown()
    public var privacy = Privacy()
    /// `browser`: analytics.js served first-party (see ``Browser``); off by default.
    public var browser = Browser()
    /// `delivery`: relay Segment's answer (the default) or spool durably and deliver later (see ``Delivery``).
    public var delivery = Delivery()
    /// `sources`: per-write-key policy and upstream (see ``Source``); empty means one policy for all traffic.
    public var sources: [Source] = []

    public init() {}

    /// The listener SDKs post to.
    public struct Ingress: Sendable, Hashable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// Serve HTTPS when both are set.
        public var tls: TLSFiles?
        /// Write keys allowed through; empty accepts any key.
        public var writeKeys: [String] = []
        /// The hard cap on a request body, compressed on the wire and again after inflating.
        /// Beyond it a request gets 413; Segment's own limits (400) are checked below it.
        public var maxBodyBytes = 1 << 20
        /// Segment's limits on decompressed bytes.
        public var limits = WireLimits()
        /// Origins answered on CORS preflight; `["*"]` reflects any origin.
        public var corsAllowedOrigins: [String] = ["*"]
        /// A connection must deliver a complete request head within this time of connecting or of
        /// its previous response (slowloris defence; also the keep-alive idle limit).
        public var headerTimeoutSeconds = 15.0
        /// A request body must arrive completely within this time of its head.
        public var bodyTimeoutSeconds = 30.0
        /// Connections accepted at once; more wait in the listen backlog.
        public var maxConnections = 4096
        /// Requests handled at once; beyond it a request gets 503 with `Retry-After`.
        public var maxInflightRequests = 1024
        /// The library that inflates bodies and re-gzips re-encoded batches (``DeflateLibrary``).
        public var inflater = InflaterChoice.auto
        /// `ingress.trusted_proxies`: the proxies whose `X-Forwarded-For` / `Forwarded` is believed;
        /// empty trusts none (the client is the connection's peer).
        public var trustedProxies: [IPNetwork] = []
        /// `ingress.client_ip.fill`: which events without `context.ip` get the client's address.
        public var clientIPFill = AddressPolicy.Fill.clientLibraries

        public init() {}

        /// `ingress.inflater`: which library inflates (same results, different speed).
        public enum InflaterChoice: String, Sendable, Hashable, CaseIterable {
            /// libdeflate when `libdeflate.so.0` loads, zlib otherwise.
            case auto
            /// libdeflate, or the gateway does not start.
            case libdeflate
            /// zlib, even where libdeflate is installed.
            case zlib

            /// The library this choice selects on this host.
            /// - Throws: a ``ConfigurationError`` for `libdeflate` when its shared library cannot be loaded.
            public func resolve() throws(ConfigurationError) -> DeflateLibrary {
                switch self {
                case .auto: return .preferred
                case .zlib: return .zlib
                case .libdeflate:
                    guard DeflateLibrary.isLibDeflateAvailable else {
                        throw ConfigurationError(
                            key: "ingress.inflater",
                            "is libdeflate, but libdeflate cannot be loaded (\(DeflateLibrary.libDeflateProblem ?? "unknown")); install libdeflate0 or use auto | zlib")
                    }
                    return .libdeflate
                }
            }
        }
    }

    /// What of the visitor consentgate passes on.
    public struct Privacy: Sendable, Hashable {
        /// `privacy.ip`: every forwarded `context.ip` (filled or sent by the client) and the upstream
        /// `X-Forwarded-For`: kept, truncated (/24, /48) or dropped.
        public var ip = AddressPolicy.Privacy.keep

        public init() {}
    }

    /// `ingress.client_ip.fill` and `privacy.ip` together.
    public var addressPolicy: AddressPolicy { AddressPolicy(fill: ingress.clientIPFill, privacy: privacy.ip) }

    /// A certificate chain and private key in PEM files.
    public struct TLSFiles: Sendable, Hashable {
        public var certificate: String
        public var key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// Where accepted events go: Segment's tracking API.
    public struct Upstream: Sendable, Hashable {
        /// Scheme, host and optional port; the request path is appended.
        public var url = "https://api.segment.io"
        /// An extra trust root (PEM) added to the system's, e.g. a test CA.
        public var caFile = ""
        /// Deadline for one upstream exchange, connection included.
        public var timeoutSeconds = 10.0
        /// Bound on opening one upstream connection (TCP connect and TLS handshake), so that during an
        /// outage a request is answered quickly (503 after this long, 502 at once when the connection is
        /// refused) instead of waiting the whole ``timeoutSeconds``. At most ``timeoutSeconds``.
        public var connectTimeoutSeconds = 3.0
        /// Pooled keep-alive connections to the upstream, shared evenly by the event loops.
        public var maxConnections = 64
        /// `Retry-After` sent to clients when the upstream fails or times out.
        public var retryAfterSeconds = 5
        /// The gzip level (libdeflate, 1–12) of a body re-encoded because enforcement dropped or restamped
        /// events; an unchanged body goes on as it came. 1 compresses a 75 KB batch about twice as fast
        /// as 6, for a body about 15 % larger, and every batch with one mismatch pays it.
        public var gzipLevel = 1

        public init() {}
    }

    /// The operator's listener: health, readiness, metrics and the consent API.
    public struct Admin: Sendable, Hashable {
        public var host = "127.0.0.1"
        public var port = 9090
        /// Bearer token for the admin API; empty disables the consent API.
        public var token = ""
        /// `admin.webhooks`: consent platforms' own change notifications (see ``Webhook``).
        public var webhooks: [Webhook] = []

        public init() {}
    }

    /// The store of record for consent.
    public struct Store: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// One embedded file (one replica).
            case sqlite
            /// One PostgreSQL table shared by many replicas, kept in step by `LISTEN`/`NOTIFY`.
            case postgres
            /// The customer's own consent service, read-only.
            case http
        }

        public var kind = Kind.sqlite
        /// `store.request_deadline_seconds`: one request's store lookups, run concurrently, all end
        /// within this; what is unresolved then counts as `store_unavailable`.
        public var requestDeadlineSeconds: Double = 5
        /// The SQLite file, created on first start.
        public var sqlitePath = "data/consent.sqlite"
        public var postgres = Postgres()
        public var http = HTTP()
        /// `store.category_aliases`: the store's category ids → the stamps' names, applied to every store's
        /// records before they are cached (see ``ConsentCore/CategoryAliases``). Empty: ids are the names.
        public var categoryAliases: [String: String] = [:]

        public init() {}

        /// `store.postgres.*`.
        public struct Postgres: Sendable, Hashable {
            /// `postgres://user:password@host:port/database?sslmode=prefer`; the password is a secret.
            public var url = ""
            /// Pooled connections per replica (the listener's connection is extra).
            public var poolSize = 8
            /// The `NOTIFY` channel the table's trigger announces changes on.
            public var channel = "consentgate_subjects"
            /// Deadline of one lookup or write, waiting for a pooled connection included.
            public var timeoutSeconds = 2.0

            public init() {}
        }

        /// `store.http.*`.
        public struct HTTP: Sendable, Hashable {
            /// A URL with `{subject}`, e.g. `https://consent.example.com/v1/subjects/{subject}`.
            public var urlTemplate = ""
            public var method = "GET"
            /// Request headers, e.g. `Authorization`; values are secrets.
            public var headers: [Header] = []
            /// A JSON body for each request, with the JSON string `"{subject}"` replaced by the subject
            /// (for services asked by POST, such as Ketch); empty sends no body.
            public var bodyTemplate = ""
            /// RFC 6901 pointer to the preferences (an object or an array) in the answer; empty is the whole answer.
            public var preferencesPointer = ""
            /// `store.http.item.key`: pointer, inside each array item, to the category id (arrays only).
            public var itemKey = ""
            /// `store.http.item.value`: pointer, inside each item or member value, to the boolean or status;
            /// empty is the value itself.
            public var itemValue = ""
            /// `store.http.unknown_if_absent`: nothing at `preferences_pointer` in a 2xx answer means an
            /// unknown subject (not invalid data). For services that answer an unknown subject with an empty list.
            public var unknownIfAbsent = false
            /// Status strings that grant, and that deny (case-insensitive); empty when the service answers booleans.
            public var statusGranted: [String] = []
            public var statusDenied: [String] = []
            public var timeoutSeconds = 2.0
            public var maxConcurrent = 32
            /// Consecutive failures that open the circuit breaker.
            public var breakerFailureThreshold = 5
            /// How long the breaker stays open before a probe.
            public var breakerOpenSeconds = 10.0
            /// Extra trust roots (PEM) for an HTTPS consent service.
            public var caFile = ""

            public init() {}
        }

        /// One HTTP request header of `store.http.headers`.
        public struct Header: Sendable, Hashable {
            public var name: String
            public var value: String

            public init(name: String, value: String) {
                self.name = name
                self.value = value
            }
        }
    }

    /// The in-memory consent cache in front of the store.
    public struct Cache: Sendable, Hashable {
        public var capacity = 1_000_000
        public var ttlSeconds = 300.0
        public var negativeTTLSeconds = 30.0
        public var maxStaleGrantSeconds = 60.0

        public init() {}
    }

    /// What to do with each verdict (see ``ConsentPolicy``), and the categories metrics name.
    public struct Policy: Sendable, Hashable {
        public var rules = ConsentPolicy()
        /// Category ids that get their own metric label; others count as `other`.
        public var categories: [String] = ["Advertising", "Analytics", "Functional", "DataSharing"]

        public init() {}
    }

    /// The decision audit log.
    public struct Audit: Sendable, Hashable {
        /// JSON lines, appended; empty disables the audit log.
        public var path = "data/audit.jsonl"
        /// Key of the HMAC-SHA256 that names subjects in audit records.
        public var hmacKey = ""

        public init() {}
    }

    public struct Log: Sendable, Hashable {
        public enum Format: String, Sendable, Hashable, CaseIterable {
            case text
            case json
        }

        public var level = "info"
        public var format = Format.text

        public init() {}
    }

    public struct Shutdown: Sendable, Hashable {
        /// How long in-flight requests may take to finish after SIGTERM.
        public var graceSeconds = 10.0

        public init() {}
    }
}
