import Foundation
import Testing

/// The live decision view in a real browser: Debian's headless Chromium loads the page against a
/// running gateway and the rendered DOM shows the decisions of real traffic. A screenshot is kept in
/// `.build/test-artifacts/debugger.png`.
@Suite(.timeLimit(.minutes(3)))
struct DebuggerBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test func chromiumRendersDecisionsFromRealTraffic() async throws {
        let chromium = try #require(Self.chromium, "Debian's chromium package is needed (scripts/test.sh installs it)")
        try await GatewayHarness.with { harness in
            try await harness.putConsent("browser-user-1", ["Advertising": false, "Analytics": true])
            // A first read of the view starts the sampling of decisions.
            _ = try await harness.send(
                harness.admin + "/debugger/state", body: nil, headers: [("Authorization", "Bearer \(GatewayHarness.adminToken)")],
                method: .GET)
            let events = [
                TestEvents.track(userId: "browser-user-1", event: "Order Completed", stamp: ["Advertising": false, "Analytics": true]),
                TestEvents.track(userId: "browser-user-1", event: "Ad Clicked", stamp: ["Advertising": true, "Analytics": true]),
                TestEvents.track(userId: "browser-stranger", event: "Page Viewed", stamp: ["Analytics": true]),
            ]
            #expect(try await harness.post("/v1/batch", json: TestEvents.batch(events)).status == 200)

            let url = harness.admin + "/debugger?token=" + GatewayHarness.adminToken
            let common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=5000"]
            let dom = await TestProcess.runDetached(common + ["--dump-dom", url], timeout: 90)
            #expect(dom.exitCode == 0, "\(dom.output.suffix(2000))")
            #expect(dom.output.contains("Order Completed"))
            #expect(dom.output.contains("Ad Clicked"))
            #expect(dom.output.contains(#"class="v-mismatch">mismatch"#))
            #expect(dom.output.contains(#"class="v-unknown_subject">unknown_subject"#))
            #expect(dom.output.contains("Advertising ↑"))
            #expect(!dom.output.contains("browser-user-1") && !dom.output.contains("browser-stranger"))

            let artifacts = RepositoryPaths.root + "/.build/test-artifacts"
            try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
            let shot = await TestProcess.runDetached(
                common + ["--window-size=1200,900", "--screenshot=\(artifacts)/debugger.png", url], timeout: 90)
            #expect(shot.exitCode == 0)
            #expect(FileManager.default.fileExists(atPath: artifacts + "/debugger.png"))
        }
    }
}
