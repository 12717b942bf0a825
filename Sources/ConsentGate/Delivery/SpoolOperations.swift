public import Logging
import ServiceLifecycle
import Spool

/// The operator's commands on a spool (`consentgate spool status | drain | requeue-dead-letters`).
public enum SpoolOperations {
    /// Why a command could not do its work, for one line on stderr.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// `spool status`: the spool's size, depth, oldest age and dead letters, read without its lock (so it
    /// works while a gateway runs), as `key: value` lines.
    public static func status(path: String, nowMilliseconds: Int64? = nil) throws(Failure) -> String {
        let status: SpoolStatus
        do {
            status = try SpoolLog.inspect(directory: path)
        } catch {
            throw Failure(description: "cannot read the spool at '\(path)': \(error)")
        }
        let age = SpoolObservation.oldestAgeSeconds(status, nowMilliseconds: nowMilliseconds ?? WallClock.milliseconds())
        return [
            "spool: \(path)",
            "bytes: \(status.bytes)",
            "batches: \(status.batches)",
            "oldest_age_seconds: \(Int(age.rounded(.down)))",
            "dead_letters: \(status.deadLetters)",
            "dead_letter_bytes: \(status.deadLetterBytes)",
            "segments: \(status.segments)",
        ].joined(separator: "\n") + "\n"
    }

    /// What `spool drain` did.
    public struct DrainReport: Sendable, CustomStringConvertible {
        public var before: Int
        public var deadLettersBefore: Int
        public var after: Int
        public var deadLettersAfter: Int

        public var description: String {
            "drained \(before - after) batches: \(before - after - (deadLettersAfter - deadLettersBefore)) delivered, "
                + "\(deadLettersAfter - deadLettersBefore) dead-lettered; \(after) left"
        }
    }

    /// `spool drain PATH`: delivers the spool at `path` (one left behind by a replica gone for good) over
    /// the configuration's upstreams and sources, with its retry settings, and returns once it is empty
    /// (or on SIGINT/SIGTERM, leaving the rest in the spool).
    public static func drain(path: String, configuration: GatewayConfiguration, logger: Logger) async throws -> DrainReport {
        let log: SpoolLog
        do {
            log = try configuration.delivery.openSpool(path: path)
        } catch {
            throw Failure(description: "\(error)")
        }
        let before = log.status
        let forwarders: UpstreamForwarders
        do {
            let sources = [configuration.defaultSource] + configuration.sources
            forwarders = try await UpstreamForwarders.open(urls: sources.map(\.upstreamURL), upstream: configuration.upstream)
        } catch {
            await log.close()
            throw error
        }
        var upstreams = [SpoolDeliverer.defaultSourceName: forwarders.forwarder(url: configuration.defaultSource.upstreamURL)]
        for source in configuration.sources { upstreams[source.name] = forwarders.forwarder(url: source.upstreamURL) }
        let audit: AuditLog?
        do {
            audit = configuration.audit.path.isEmpty ? nil : try AuditLog(path: configuration.audit.path)
        } catch {
            await log.close()
            await forwarders.shutdown()
            throw error
        }
        let deliverer = SpoolDeliverer(
            log: log, upstreams: upstreams, settings: configuration.delivererSettings, metrics: nil, feed: nil, audit: audit,
            logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: deliverer),
                    .init(service: DrainWatch(deliverer: deliverer), successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            audit?.close()
            await forwarders.shutdown()
            throw error
        }
        audit?.close()
        await forwarders.shutdown()
        // The deliverer closed the log, its done-marks persisted: read what is left from disk.
        let final = (try? SpoolLog.inspect(directory: path)) ?? before
        return DrainReport(
            before: before.batches, deadLettersBefore: before.deadLetters, after: final.batches, deadLettersAfter: final.deadLetters)
    }

    /// `spool requeue-dead-letters`: puts every dead letter back in line (the spool must not be in use).
    public static func requeueDeadLetters(configuration: GatewayConfiguration) async throws(Failure) -> Int {
        let log: SpoolLog
        do {
            log = try configuration.delivery.openSpool()
        } catch {
            throw Failure(description: "\(error)")
        }
        do {
            let count = try await log.requeueDeadLetters()
            await log.close()
            return count
        } catch {
            await log.close()
            throw Failure(description: "cannot requeue the dead letters: \(error)")
        }
    }
}

/// Ends `spool drain` once nothing is left to deliver.
private struct DrainWatch: Service {
    let deliverer: SpoolDeliverer

    func run() async throws {
        while !deliverer.isDrained && !Task.isShuttingDownGracefully {
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
