import ConsentStores
import Foundation
import Logging
import PostgresNIO

/// The throw-away PostgreSQL server that `scripts/test.sh` starts (`CONSENTGATE_TEST_POSTGRES_URL`),
/// a fresh database in it per test, and private clusters for tests that stop the server.
///
/// Without the variable, tests that need PostgreSQL fail (they never skip): run them with
/// `bash scripts/test.sh`, or start a server with `scripts/postgres.sh start` and source its env file.
public enum TestPostgres {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static let variable = "CONSENTGATE_TEST_POSTGRES_URL"

    /// The server's URL.
    public static func serverURL() throws -> PostgresURL {
        guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else {
            throw Failure(
                description: "\(variable) is not set: run the tests with `bash scripts/test.sh`, which starts a throw-away "
                    + "PostgreSQL (or `scripts/postgres.sh start` and source the env file it writes)")
        }
        var url = try PostgresURL(parsing: text)
        url.tlsMode = .disable
        return url
    }

    /// A new, empty database on the shared server; tests never see each other's tables.
    public static func freshDatabase(on server: PostgresURL? = nil) async throws -> PostgresURL {
        let server = try server ?? serverURL()
        let name = "cg_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await withConnection(server) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: quietPostgresLogger).drain()
        }
        var url = server
        url.database = name
        return url
    }

    /// A plain connection of its own, behind the store's back, as the customer's SQL would come.
    public static func withConnection<T>(_ url: PostgresURL, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(
            configuration: .init(
                host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: .disable),
            id: 1, logger: quietPostgresLogger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Runs SQL text on `url` (no parameters: test literals only).
    public static func execute(_ url: PostgresURL, _ sql: String) async throws {
        try await withConnection(url) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietPostgresLogger).drain()
        }
    }

    /// The first column of the first row, as an integer.
    public static func integer(_ url: PostgresURL, _ sql: String) async throws -> Int? {
        try await withConnection(url) { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietPostgresLogger)
            var first: Int?
            for try await value in rows.decode(Int64.self) where first == nil { first = Int(value) }
            return first
        }
    }

    /// The URL as `store.postgres.url` takes it (test servers have no password).
    public static func configurationText(_ url: PostgresURL) -> String {
        "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)?sslmode=disable"
    }

    /// The repository root (where `scripts/postgres.sh` is).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        preconditionFailure("Package.swift not found above \(#filePath)")
    }()
}

/// Silent, unless `CONSENTGATE_TEST_LOG=debug` (or another level) asks for the stores' logs on standard error.
public let quietPostgresLogger: Logger = {
    guard let level = ProcessInfo.processInfo.environment["CONSENTGATE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) else {
        return Logger(label: "consentgate.tests.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    }
    var logger = Logger(label: "consentgate.tests.postgres", factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = level
    return logger
}()

/// A PostgreSQL cluster of one test's own (`scripts/postgres.sh`), for tests that stop and restart the
/// server: the shared one must stay up for the tests running beside them. Stop it with ``stop()``.
public final class PrivateCluster: Sendable {
    public let directory: String
    public let url: PostgresURL

    private init(directory: String, url: PostgresURL) {
        self.directory = directory
        self.url = url
    }

    public static func start() async throws -> PrivateCluster {
        // The shared server's variable marks a prepared environment; its absence fails the test the same way.
        _ = try TestPostgres.serverURL()
        let output = try await script(["start"])
        let directory = output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
        let env = try String(contentsOfFile: directory + "/env", encoding: .utf8)
        guard let line = env.split(separator: "\n").first(where: { $0.contains("CONSENTGATE_TEST_POSTGRES_URL=") }),
            let value = line.split(separator: "=", maxSplits: 1).last
        else {
            throw TestPostgres.Failure(description: "scripts/postgres.sh wrote no URL:\n\(env)")
        }
        var url = try PostgresURL(parsing: String(value))
        url.tlsMode = .disable
        return PrivateCluster(directory: directory, url: url)
    }

    /// Stops the server (fast shutdown: every client is disconnected at once); the data stays.
    public func pause() async throws { _ = try await Self.script(["pause", directory]) }
    /// Starts it again on the same port.
    public func resume() async throws { _ = try await Self.script(["resume", directory]) }
    /// Stops it and removes its directory.
    public func stop() async { _ = try? await Self.script(["stop", directory]) }

    private static func script(_ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            // Off the cooperative pool: waiting for a child process blocks a thread.
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try run(["/bin/bash", TestPostgres.repositoryRoot + "/scripts/postgres.sh"] + arguments))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Runs a command to completion with posix_spawn and waitpid, its output going to a file.
    ///
    /// Not Foundation's `Process`: its exit monitoring missed this child's exit here (a zombie was
    /// left unreaped), and a pipe could be held open by the server the script starts.
    private static func run(_ command: [String]) throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("postgres-sh-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, command[0], &actions, nil, &argv, environ)
        guard spawned == 0 else {
            throw TestPostgres.Failure(description: "cannot start \(command.joined(separator: " ")): errno \(spawned)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED && WEXITSTATUS == 0
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw TestPostgres.Failure(description: "\(command.dropFirst().joined(separator: " ")) failed (status \(status)):\n\(output)")
        }
        return output
    }
}

extension PostgresRowSequence {
    /// Reads every row, so the connection is free for the next statement.
    public func drain() async throws {
        for try await _ in self {}
    }
}
