public import SegmentWire

/// What this build of the gateway is: its version (`consentgate --version`, the startup line, and the
/// `consentgate_build_info` metric) and the inflating library it runs with.
public struct BuildInfo: Sendable, Hashable {
    /// The release version, bumped with each release (semantic versioning).
    public static let version = "0.16.0"

    /// The library that inflates bodies in this process (``DeflateLibrary``).
    public var inflater: DeflateLibrary

    public init(inflater: DeflateLibrary) {
        self.inflater = inflater
    }
}
