import Configuration

/// Typed, validated reads from a `ConfigReader`.
///
/// `ConfigReader`'s defaulting getters turn a value of the wrong type into the default, which would
/// hide typos such as `port: eighty`. Here every present value must parse, or the read throws a
/// ``ConfigurationError`` naming the key.
///
/// Keys are relative to ``reader``; ``path`` is the full key path of that reader as an operator wrote it
/// (`sources[1].policy`), so that errors name `sources[1].policy.on_mismatch`, not `on_mismatch`.
struct ConfigValues {
    let reader: ConfigReader
    /// The key path of ``reader`` for error messages; empty at the root.
    let path: String

    init(reader: ConfigReader, path: String = "") {
        self.reader = reader
        self.path = path
    }

    /// The values under `key` (`policy`), read with relative keys (`mode`) and named in errors with the
    /// full path (`sources[1].policy.mode`), like AHC's `init(configReader:)` on a scoped reader.
    func scoped(to key: String) -> ConfigValues {
        ConfigValues(reader: reader.scoped(to: ConfigKey(key)), path: fullKey(key))
    }

    /// Whether any provider holds a value for `key` (a single value or a list).
    func isSet(_ key: String) -> Bool {
        reader.string(forKey: ConfigKey(key)) != nil || reader.stringArray(forKey: ConfigKey(key)) != nil
    }

    /// `key` as an operator finds it in the file.
    func fullKey(_ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }

    func string(_ key: String, default defaultValue: String, isSecret: Bool = false) throws(ConfigurationError) -> String {
        if let value = reader.string(forKey: ConfigKey(key), isSecret: isSecret) { return value }
        if reader.stringArray(forKey: ConfigKey(key)) != nil {
            throw ConfigurationError(key: fullKey(key), "must be a single value, not a list")
        }
        return defaultValue
    }

    func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let raw = try string(key, default: "")
        guard !raw.isEmpty else { return defaultValue }
        guard let value = Int(raw.trimmingSpaces) else {
            throw ConfigurationError(key: fullKey(key), "must be a whole number, got '\(raw)'")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: fullKey(key), "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    func seconds(_ key: String, default defaultValue: Double, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        let raw = try string(key, default: "")
        guard !raw.isEmpty else { return defaultValue }
        guard let value = Double(raw.trimmingSpaces), value.isFinite else {
            throw ConfigurationError(key: fullKey(key), "must be a number of seconds, got '\(raw)'")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: fullKey(key), "must be between \(range.lowerBound) and \(range.upperBound) seconds, got \(value)")
        }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: T) throws(ConfigurationError) -> T
    where T.RawValue == String {
        let raw = try string(key, default: defaultValue.rawValue).trimmingSpaces
        guard let value = T(rawValue: raw) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: " | ")
            throw ConfigurationError(key: fullKey(key), "must be one of \(allowed), got '\(raw)'")
        }
        return value
    }

    /// A list: a YAML sequence, or a comma-separated string (as environment variables give).
    func strings(_ key: String, default defaultValue: [String], isSecret: Bool = false) throws(ConfigurationError) -> [String] {
        if let list = reader.stringArray(forKey: ConfigKey(key), isSecret: isSecret) {
            return list.map(\.trimmingSpaces).filter { !$0.isEmpty }
        }
        if let raw = reader.string(forKey: ConfigKey(key), isSecret: isSecret) {
            return raw.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
        return defaultValue
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
