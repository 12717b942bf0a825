import ConsentCore

extension GatewayConfiguration.Policy {
    mutating func read(from values: ConfigValues) throws(ConfigurationError) {
        rules.mode = try values.choice("policy.mode", default: rules.mode)
        rules.compare = try values.choice("policy.compare", default: rules.compare)
        rules.onMismatch = try values.choice("policy.on_mismatch", default: rules.onMismatch)
        rules.onMissingStamp = try values.choice("policy.on_missing_stamp", default: rules.onMissingStamp)
        rules.onUnknownSubject = try values.choice("policy.on_unknown_subject", default: rules.onUnknownSubject)
        rules.onStoreUnavailable = try values.choice("policy.on_store_unavailable", default: rules.onStoreUnavailable)
        rules.gpcCategories = try values.strings("policy.gpc_categories", default: rules.gpcCategories)
        rules.preferenceUpdates = try values.choice("policy.preference_updates", default: rules.preferenceUpdates)
        categories = try values.strings("policy.categories", default: categories)
    }
}
