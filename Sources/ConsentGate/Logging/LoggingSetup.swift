import Logging

/// Bootstraps swift-log once, from `log.level` and `log.format`.
public enum LoggingSetup {
    public static func bootstrap(_ configuration: GatewayConfiguration.Log) {
        let level = Logger.Level(rawValue: configuration.level) ?? .info
        switch configuration.format {
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        case .text:
            LoggingSystem.bootstrap { label in TextLogHandler(label: label, level: level) }
        }
    }
}
