/// A configuration value that cannot be used, named by its key path.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key path as written in YAML (`upstream.url`).
    public var key: String
    /// What is wrong with it, and what would be right.
    public var problem: String

    public init(key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }

    /// One line for an operator: `invalid configuration: upstream.url: must start with http:// or https://`.
    public var description: String { "invalid configuration: \(key): \(problem)" }
}
