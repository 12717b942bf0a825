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
            #expect(slowest < .seconds(1), "slowest normal request took \(slowest)")
            #expect(harness.sink.received.count == 10)
            // Past the header deadline the server has closed them, whatever they trickle.
            try await Task.sleep(for: .seconds(4))
            var open = await slow.trickle()
            if open > 0 {
                try await Task.sleep(for: .milliseconds(500))
                open = await slow.trickle()  // a send after the peer closed fails only on the second try
            }
            #expect(open == 0, "\(open) slow connections were still open after the header deadline")
        }
    }

    @Test func aTrickledBodyGets408() async throws {
        try await GatewayHarness.with({ $0.ingress.bodyTimeoutSeconds = 0.5 }) { harness in
            let slow = await SlowConnections.open(
                count: 1, port: harness.addresses.ingressPort,
                partial: "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"batch\":[")
            defer { slow.closeAll() }
            try await Task.sleep(for: .seconds(1.5))
            // The gateway answered 408 and closed: further bytes fail.
            _ = await slow.trickle()
            try await Task.sleep(for: .milliseconds(300))
            #expect(await slow.trickle() == 0)
            #expect(harness.sink.received.isEmpty)
            #expect(try await harness.post("/v1/batch", json: TestEvents.batch([])).status == 200)
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
