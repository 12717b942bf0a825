import Testing

@testable import ClientAddress

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("2001:db8::1", "2001:db8::1"), ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"), ("::1", "::1"),
        ("::", "::"), ("::ffff:192.0.2.1", "192.0.2.1"), ("fe80::1:2:3:4", "fe80::1:2:3:4"),
    ])
    func parsesAndPrintsCanonically(text: String, printed: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == printed)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "[::1]", "::1%eth0", "1.2.3.4:80", "example.com",
        "2001:db8::1::2", "unknown", "_hidden", "1.2.3.-4", String(repeating: "1", count: 100),
    ])
    func rejectsWhatIsNoLiteralAddress(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv4MappedIPv6IsTheIPv4Address() throws {
        let mapped = try #require(IPAddress("::ffff:10.1.2.3"))
        #expect(mapped == IPAddress("10.1.2.3"))
        #expect(mapped.family == .v4)
        #expect(IPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 1, 2, 3]) == IPAddress("10.1.2.3"))
    }

    @Test(arguments: [
        ("192.0.2.123", "192.0.2.0"), ("10.255.255.255", "10.255.255.0"), ("192.0.2.0", "192.0.2.0"),
        ("2001:db8:abcd:1234:5678::1", "2001:db8:abcd::"), ("2001:db8:abcd::", "2001:db8:abcd::"),
        ("fe80::1", "fe80::"), ("::ffff:198.51.100.7", "198.51.100.0"),
    ])
    func truncatesTheHostPart(text: String, truncated: String) throws {
        #expect(try #require(IPAddress(text)).truncated.description == truncated)
    }

    @Test func masksAtEveryPrefixLength() throws {
        let v6 = try #require(IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        #expect(v6.masked(to: 0).description == "::")
        #expect(v6.masked(to: 64).description == "ffff:ffff:ffff:ffff::")
        #expect(v6.masked(to: 65).description == "ffff:ffff:ffff:ffff:8000::")
        #expect(v6.masked(to: 128) == v6)
        let v4 = try #require(IPAddress("255.255.255.255"))
        #expect(v4.masked(to: 0).description == "0.0.0.0")
        #expect(v4.masked(to: 9).description == "255.128.0.0")
        #expect(v4.masked(to: 32) == v4)
    }
}
