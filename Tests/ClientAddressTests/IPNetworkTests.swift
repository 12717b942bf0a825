import Testing

@testable import ClientAddress

@Suite struct IPNetworkTests {
    @Test func containsTheAddressesOfItsBlock() throws {
        let network = try #require(IPNetwork("10.0.0.0/8"))
        #expect(network.contains(try #require(IPAddress("10.200.3.4"))))
        #expect(!network.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(network.contains(try #require(IPAddress("::ffff:10.0.0.1"))))
        #expect(!network.contains(try #require(IPAddress("::a00:1"))))  // an IPv6 address is not in an IPv4 block
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
    }

    @Test func aBareAddressIsItsOwnBlock() throws {
        let single = try #require(IPNetwork("192.0.2.7"))
        #expect(single.prefixLength == 32)
        #expect(single.contains(try #require(IPAddress("192.0.2.7"))))
        #expect(!single.contains(try #require(IPAddress("192.0.2.8"))))
        #expect(try #require(IPNetwork("::1")).prefixLength == 128)
    }

    @Test func hostBitsAreCleared() throws {
        #expect(try #require(IPNetwork("10.1.2.3/8")).description == "10.0.0.0/8")
        #expect(try #require(IPNetwork("0.0.0.0/0")).contains(try #require(IPAddress("203.0.113.9"))))
        #expect(try #require(IPNetwork("::ffff:10.0.0.0/104")).description == "10.0.0.0/8")
    }

    @Test(arguments: ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/+8", "example/8", "", "/8"])
    func rejectsMalformedBlocks(text: String) {
        #expect(IPNetwork(text) == nil)
    }
}
