import Foundation

/// A development CA and a localhost server certificate, made once per test process by the
/// project's own `certs/make-dev-certs.sh` (real openssl, real TLS), and removed when it exits.
enum TestCertificates {
    struct Files: Sendable {
        var directory: String
        var ca: String { directory + "/ca.pem" }
        var certificate: String { directory + "/server.pem" }
        var key: String { directory + "/server-key.pem" }
    }

    /// This process's directory (a C exit handler can name it without capturing anything).
    private static var directory: String {
        FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-test-certs-\(getpid())").path
    }

    static let files: Files = {
        let status = TestProcess.run(["/bin/bash", RepositoryPaths.root + "/certs/make-dev-certs.sh", directory])
        precondition(status.exitCode == 0, "certs/make-dev-certs.sh failed: \(status.output)")
        atexit { try? FileManager.default.removeItem(atPath: TestCertificates.directory) }
        return Files(directory: directory)
    }()
}

/// Paths inside the repository, found from this file's location.
enum RepositoryPaths {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        preconditionFailure("Package.swift not found above \(#filePath)")
    }()
}
