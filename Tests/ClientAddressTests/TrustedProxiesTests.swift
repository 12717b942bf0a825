import Testing

@testable import ClientAddress

@Suite struct TrustedProxiesTests {
    let proxies = TrustedProxies(["10.0.0.0/8", "fd00::/8"].compactMap(IPNetwork.init))

    func client(peer: String, xff: [String] = [], forwarded: [String] = []) -> String? {
        IPAddress(peer).map { proxies.client(peer: $0, forwardedFor: xff, forwarded: forwarded).description }
    }

    @Test func anUntrustedPeerIsTheClientWhateverItsHeadersSay() {
        #expect(client(peer: "198.51.100.7", xff: ["1.1.1.1"]) == "198.51.100.7")
        #expect(client(peer: "198.51.100.7", forwarded: ["for=1.1.1.1"]) == "198.51.100.7")
        #expect(client(peer: "2001:db8::7", xff: ["1.1.1.1, 10.0.0.1"]) == "2001:db8::7")
        // With no trusted proxy at all, nothing is believed.
        let none = TrustedProxies()
        #expect(none.client(peer: IPAddress("10.0.0.1")!, forwardedFor: ["1.1.1.1"], forwarded: []).description == "10.0.0.1")
    }

    @Test func aTrustedPeerNamesTheRightmostUntrustedAddress() {
        #expect(client(peer: "10.0.0.2", xff: ["203.0.113.5"]) == "203.0.113.5")
        // The spoofed left entry is the client's own writing: the rightmost untrusted one wins.
        #expect(client(peer: "10.0.0.2", xff: ["6.6.6.6, 203.0.113.5, 10.1.1.1"]) == "203.0.113.5")
        // Several field lines are one list, in order.
        #expect(client(peer: "10.0.0.2", xff: ["6.6.6.6, 203.0.113.5", "10.1.1.1"]) == "203.0.113.5")
        #expect(client(peer: "fd00::2", xff: ["2001:db8::5, fd00::9"]) == "2001:db8::5")
        #expect(client(peer: "::ffff:10.0.0.2", xff: ["[2001:db8::5]:443"]) == "2001:db8::5")
        #expect(client(peer: "10.0.0.2", xff: ["203.0.113.5:51234"]) == "203.0.113.5")
    }

    @Test func anAllTrustedChainEndsAtItsLeftmostHop() {
        #expect(client(peer: "10.0.0.2", xff: ["10.9.9.9, 10.1.1.1"]) == "10.9.9.9")
        #expect(client(peer: "10.0.0.2") == "10.0.0.2")
    }

    @Test func anUnreadableEntryStopsAtTheLastTrustedHop() {
        #expect(client(peer: "10.0.0.2", xff: ["garbage"]) == "10.0.0.2")
        #expect(client(peer: "10.0.0.2", xff: ["203.0.113.5, unknown, 10.1.1.1"]) == "10.1.1.1")
        #expect(client(peer: "10.0.0.2", xff: [""]) == "10.0.0.2")
        #expect(client(peer: "10.0.0.2", xff: ["1.2.3.4,,"]) == "10.0.0.2")
        #expect(client(peer: "10.0.0.2", xff: ["[2001:db8::5"]) == "10.0.0.2")
        #expect(client(peer: "10.0.0.2", xff: ["1.2.3.4:http"]) == "10.0.0.2")
        // Entries left of the client are never read: garbage there changes nothing.
        #expect(client(peer: "10.0.0.2", xff: ["<script>, 203.0.113.5"]) == "203.0.113.5")
    }

    @Test func readsForwardedWhenThereIsNoXForwardedFor() {
        #expect(client(peer: "10.0.0.2", forwarded: ["for=192.0.2.60;proto=http;by=203.0.113.43"]) == "192.0.2.60")
        #expect(client(peer: "10.0.0.2", forwarded: ["for=192.0.2.60, For=\"[2001:db8:cafe::17]:4711\""]) == "2001:db8:cafe::17")
        #expect(client(peer: "10.0.0.2", forwarded: ["for=192.0.2.60, for=10.3.3.3"]) == "192.0.2.60")
        #expect(client(peer: "10.0.0.2", forwarded: ["for=_hidden"]) == "10.0.0.2")
        #expect(client(peer: "10.0.0.2", forwarded: ["proto=https"]) == "10.0.0.2")
        // X-Forwarded-For, when present, is the header read.
        #expect(client(peer: "10.0.0.2", xff: ["203.0.113.5"], forwarded: ["for=192.0.2.60"]) == "203.0.113.5")
    }

    @Test func readsAtMostABoundedNumberOfEntries() {
        let long = Array(repeating: "10.1.1.1", count: 1000).joined(separator: ",")
        #expect(client(peer: "10.0.0.2", xff: ["203.0.113.5," + long]) == "10.1.1.1")
    }
}
