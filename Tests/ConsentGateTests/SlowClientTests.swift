import Foundation
import Testing

/// Slow and greedy clients cannot take the gateway from everyone else.
@Suite(.timeLimit(.minutes(3)))
struct SlowClientTests {
    @Test func aThousandSlowlorisConnectionsDoNotStopNormalTraffic() async throws {
        try await GatewayHarness.with({
            $0.policy.rules.mode = .shadow
            $0.ingress.headerTimeoutSeconds = 4
        }) { harness in
            let slow = await SlowConnections.open(count: 1_000, port: harness.addresses.ingressPort, partial: "POST /v1/batch HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            #expect(slow.count == 1_000)
            defer { slow.closeAll() }
            // While they trickle, a normal client's requests succeed promptly.
            let body = TestEvents.batch([TestEvents.track()])
            var slowest: Duration = .zero
            for round in 0..<10 {
                _ = await slow.trickle()
                let started = ContinuousClock.now
                let reply = try await harness.post("/v1/batch", json: body)
                slowest = max(slowest, ContinuousClock.now - started)
                #expect(reply.status == 200, "round \(round)")
                try await Task.sleep(for: .milliseconds(200))
            }
            // Generous on a loaded 2-core machine; the point is that they are served, not queued behind
            // the slow connections until those time out.
            #expect(slowest < .seconds(5), "slowest normal request took \(slowest)")
            #expect(harness.sink.received.count == 10)
            // Past the header deadline the server has closed them, whatever they trickle. (A send to a
            // peer that closed fails only on the second try, so keep trickling for a while.)
            try await Task.sleep(for: .seconds(4))
            let open = await slow.trickleUntilClosed(within: .seconds(15))
            #expect(open == 0, "\(open) slow connections were still open after the header deadline")
        }
    }

    /// A byte every 250 ms would take 22 s to finish the body; the deadline is 2 s, long enough that the
    /// normal request after it makes it in time on a loaded CI machine (at 0.5 s one run got 408 there too).
    @Test func aTrickledBodyGets408() async throws {
        try await GatewayHarness.with({ $0.ingress.bodyTimeoutSeconds = 2 }) { harness in
            let slow = await SlowConnections.open(
                count: 1, port: harness.addresses.ingressPort,
                partial: "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"batch\":[")
            defer { slow.closeAll() }
            // The gateway answers 408 and closes: further bytes fail.
            #expect(await slow.trickleUntilClosed(within: .seconds(15)) == 0)
            #expect(harness.sink.received.isEmpty)
            let next = try await harness.post("/v1/batch", json: TestEvents.batch([]))
            #expect(next.status == 200)
        }
    }

    @Test func requestsPastTheInflightLimitGet503() async throws {
        try await GatewayHarness.with({
            $0.policy.rules.mode = .shadow
            $0.ingress.maxInflightRequests = 1
        }) { harness in
            harness.sink.respond(.init(delay: .seconds(2)))
            let body = TestEvents.batch([TestEvents.track()])
            let replies = try await withThrowingTaskGroup(of: GatewayHarness.Reply.self) { group in
                for _ in 0..<6 { group.addTask { try await harness.post("/v1/batch", json: body) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let accepted = replies.filter { $0.status == 200 }.count
            let refused = replies.filter { $0.status == 503 }
            #expect(accepted >= 1 && refused.count >= 1 && accepted + refused.count == 6)
            #expect(refused.allSatisfy { $0.code == "overloaded" && $0.headers.first(name: "Retry-After") != nil })
            #expect(harness.sink.received.count == accepted, "refused requests were not forwarded")
        }
    }
}
