extension GatewayConfiguration {
    /// `delivery.*`: when the SDK gets its 200 and who retries Segment's failures.
    ///
    /// - `relay` (the default): the SDK's answer is Segment's, relayed; the SDK retries.
    /// - `spool`: the bytes to forward are appended to a durable log and the SDK gets 200 once they are on
    ///   disk; a deliverer sends them to Segment at least once, retrying for up to ``maxAgeHours``.
    public struct Delivery: Sendable, Hashable {
        public enum Mode: String, Sendable, Hashable, CaseIterable {
            case relay
            case spool
        }

        public var mode = Mode.relay
        public var spool = Spool()
        /// Batches the deliverer sends to Segment at once.
        public var maxInFlight = 16
        public var retry = Retry()
        /// A batch not delivered this long after it was acknowledged becomes a dead letter.
        public var maxAgeHours = 72.0

        public init() {}

        /// `delivery.spool.*`: the on-disk log.
        public struct Spool: Sendable, Hashable {
            /// The spool's directory (segment files, `LOCK`, `dead-letters/`); one gateway at a time.
            public var path = "data/spool"
            /// Group commit: one `fsync` covers every append that arrived within this many milliseconds.
            public var commitIntervalMilliseconds = 2
            /// Bytes of undelivered batches at most; beyond it the ingress answers 503 `spool_full`.
            public var maxBytes: Int64 = 1 << 30

            public init() {}
        }

        /// `delivery.retry.*`: exponential backoff with full jitter between attempts of one batch.
        public struct Retry: Sendable, Hashable {
            public var initialSeconds = 1.0
            public var maxSeconds = 60.0

            public init() {}
        }
    }
}

extension GatewayConfiguration.Delivery {
    /// Reads `delivery.*` relative to `values`.
    mutating func read(from values: ConfigValues) throws(ConfigurationError) {
        mode = try values.choice("mode", default: mode)
        spool.path = try values.string("spool.path", default: spool.path).trimmingSpaces
        if mode == .spool, spool.path.isEmpty {
            throw ConfigurationError(key: values.fullKey("spool.path"), "must name a directory when delivery.mode is spool")
        }
        spool.commitIntervalMilliseconds = try values.int("spool.commit_interval_ms", default: spool.commitIntervalMilliseconds, in: 0...1000)
        let rawBytes = try values.string("spool.max_bytes", default: "")
        if !rawBytes.isEmpty {
            guard let bytes = Self.parseBytes(rawBytes) else {
                throw ConfigurationError(
                    key: values.fullKey("spool.max_bytes"),
                    "must be a number of bytes, optionally with KiB, MiB, GiB or TiB (e.g. 512MiB), got '\(rawBytes)'")
            }
            guard (Self.minimumSpoolBytes...Self.maximumSpoolBytes).contains(bytes) else {
                throw ConfigurationError(
                    key: values.fullKey("spool.max_bytes"), "must be between \(Self.minimumSpoolBytes) bytes and 1024TiB, got \(bytes)")
            }
            spool.maxBytes = bytes
        }
        maxInFlight = try values.int("max_in_flight", default: maxInFlight, in: 1...4096)
        retry.initialSeconds = try values.seconds("retry.initial_seconds", default: retry.initialSeconds, in: 0.001...3600)
        retry.maxSeconds = try values.seconds("retry.max_seconds", default: retry.maxSeconds, in: 0.001...86_400)
        guard retry.maxSeconds >= retry.initialSeconds else {
            throw ConfigurationError(
                key: values.fullKey("retry.max_seconds"),
                "must be at least delivery.retry.initial_seconds (\(retry.initialSeconds)), got \(retry.maxSeconds)")
        }
        maxAgeHours = try values.seconds("max_age_hours", default: maxAgeHours, in: 0.001...87_600)
    }

    /// The smallest `delivery.spool.max_bytes`: a few small batches.
    static let minimumSpoolBytes: Int64 = 1024
    static let maximumSpoolBytes: Int64 = 1 << 50

    /// Plain bytes (`1073741824`) or a number with a binary or decimal unit (`512MiB`, `1GiB`, `500MB`,
    /// `64KiB`; `K`/`M`/`G`/`T` alone are binary). `nil` when unreadable or overflowing.
    static func parseBytes(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int64(digits) else { return nil }
        let unit = String(trimmed.dropFirst(digits.count)).trimmingSpaces.lowercased()
        let multiplier: Int64
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kib": multiplier = 1 << 10
        case "m", "mib": multiplier = 1 << 20
        case "g", "gib": multiplier = 1 << 30
        case "t", "tib": multiplier = 1 << 40
        case "kb": multiplier = 1_000
        case "mb": multiplier = 1_000_000
        case "gb": multiplier = 1_000_000_000
        case "tb": multiplier = 1_000_000_000_000
        default: return nil
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// The `delivery` lines of the startup summary.
    var descriptionLines: [String] {
        [
            "delivery:",
            "  mode: \(mode.rawValue)",
            "  spool:",
            "    path: \"\(spool.path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"",
            "    commit_interval_ms: \(spool.commitIntervalMilliseconds)",
            "    max_bytes: \(spool.maxBytes)",
            "  max_in_flight: \(maxInFlight)",
            "  retry:",
            "    initial_seconds: \(retry.initialSeconds)",
            "    max_seconds: \(retry.maxSeconds)",
            "  max_age_hours: \(maxAgeHours)",
        ]
    }
}
