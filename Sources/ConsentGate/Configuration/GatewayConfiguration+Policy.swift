import ConsentCore

extension GatewayConfiguration.Policy {
    /// Reads the policy keys relative to `values` (the top-level `policy`, or a source's `policy`).
    ///
    /// Every key defaults to the current value, so a source starts from a copy of the top-level policy and
    /// overrides only the keys it names.
    mutating func read(from values: ConfigValues) throws(ConfigurationError) {
        rules.mode = try values.choice("mode", default: rules.mode)
        rules.compare = try values.choice("compare", default: rules.compare)
        rules.onMismatch = try values.choice("on_mismatch", default: rules.onMismatch)
        rules.onMissingStamp = try values.choice("on_missing_stamp", default: rules.onMissingStamp)
        rules.onUnknownSubject = try values.choice("on_unknown_subject", default: rules.onUnknownSubject)
        rules.onStoreUnavailable = try values.choice("on_store_unavailable", default: rules.onStoreUnavailable)
        rules.gpcCategories = try values.strings("gpc_categories", default: rules.gpcCategories)
        rules.preferenceUpdates = try values.choice("preference_updates", default: rules.preferenceUpdates)
        categories = try values.strings("categories", default: categories)
    }
}
