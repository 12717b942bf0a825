extension GatewayConfiguration.Policy {
    mutating func read(from values: ConfigValues) throws(ConfigurationError) {
        func choice(_ key: String, _ current: String, _ allowed: [String]) throws(ConfigurationError) -> String {
            let raw = try values.string(key, default: current).trimmingSpaces
            guard allowed.contains(raw) else {
                throw ConfigurationError(key: key, "must be one of \(allowed.joined(separator: " | ")), got '\(raw)'")
            }
            return raw
        }
        mode = try choice("policy.mode", mode, ["enforce", "shadow"])
        compare = try choice("policy.compare", compare, ["exact", "no_overgrant"])
        onMismatch = try choice("policy.on_mismatch", onMismatch, ["drop", "restamp"])
        onMissingStamp = try choice("policy.on_missing_stamp", onMissingStamp, ["drop", "restamp", "forward"])
        onUnknownSubject = try choice("policy.on_unknown_subject", onUnknownSubject, ["drop", "forward"])
        onStoreUnavailable = try choice("policy.on_store_unavailable", onStoreUnavailable, ["reject", "drop"])
        gpcCategories = try values.strings("policy.gpc_categories", default: gpcCategories)
        categories = try values.strings("policy.categories", default: categories)
    }
}
