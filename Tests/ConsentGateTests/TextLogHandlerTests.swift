import Logging
import Synchronization
import Testing

@testable import ConsentGate

/// Lines written to a stream, kept for the test.
private final class Lines: TextOutputStream, Sendable {
    private let lines = Mutex<[String]>([])
    func write(_ string: String) { lines.withLock { $0.append(string) } }
    /// Each line without its timestamp (the first word), which differs between two handlers.
    var untimed: [String] {
        lines.withLock { $0.map { String($0.drop(while: { $0 != " " })) } }
    }
}

@Suite struct TextLogHandlerTests {
    /// Drives a logger through metadata changes and lines at several levels.
    private func exercise(_ logger: inout Logger) {
        logger.info("before any metadata")
        logger[metadataKey: "hb.request.id"] = "17"
        logger[metadataKey: "route"] = "/v1/batch"
        logger.warning("upstream exchange failed", metadata: ["reason": "timeout", "route": "/v1/track"])
        logger.debug("below the level")
        logger[metadataKey: "route"] = nil
        logger.error("with the logger's metadata only")
        logger.critical("an explicit override", metadata: ["hb.request.id": "18"])
    }

    @Test func writesTheLinesStreamLogHandlerWrites() {
        let expected = Lines()
        let actual = Lines()
        var stream = Logger(label: "consentgate") { label in
            var handler = StreamLogHandler(label: label, stream: expected, metadataProvider: nil)
            handler.logLevel = .info
            return handler
        }
        var text = Logger(label: "consentgate") { label in
            TextLogHandler(label: label, level: .info, stream: StreamLogHandler(label: label, stream: actual, metadataProvider: nil))
        }
        exercise(&stream)
        exercise(&text)
        #expect(actual.untimed.count == 4)
        #expect(actual.untimed == expected.untimed)
        #expect(actual.untimed[1].contains("hb.request.id=17 reason=timeout route=/v1/track"))
        #expect(actual.untimed[3].contains("hb.request.id=18"))
    }

    @Test func mergesTheProvidersMetadataBetweenTheLoggersAndTheLines() {
        let lines = Lines()
        var handler = TextLogHandler(label: "consentgate", level: .info, stream: StreamLogHandler(label: "consentgate", stream: lines, metadataProvider: nil))
        handler.metadataProvider = Logger.MetadataProvider { ["trace": "provided", "route": "provided"] }
        var logger = Logger(label: "consentgate") { _ in handler }
        logger[metadataKey: "trace"] = "own"
        logger.info("line", metadata: ["route": "explicit"])
        #expect(lines.untimed == [" info consentgate: route=explicit trace=provided [ConsentGateTests] line\n"])
    }

    @Test func theLevelComesFromTheConfiguration() {
        var handler = TextLogHandler(label: "consentgate", level: .warning)
        #expect(handler.logLevel == .warning)
        handler.logLevel = .debug
        #expect(handler.logLevel == .debug)
    }
}
