import Testing

@testable import Spool

@Suite struct CRC32CTests {
    /// The check value of the CRC catalogue and the iSCSI vectors of RFC 3720 §B.4.
    @Test(arguments: [
        (Array("123456789".utf8), UInt32(0xE306_9283)),
        ([UInt8](), UInt32(0)),
        ([UInt8](repeating: 0, count: 32), UInt32(0x8A91_36AA)),
        ([UInt8](repeating: 0xFF, count: 32), UInt32(0x62A8_AB43)),
        ((0..<32).map { UInt8($0) }, UInt32(0x46DD_794E)),
        ((0..<32).map { UInt8(31 - $0) }, UInt32(0x113F_DB5C)),
    ])
    func knownVectors(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(bytes) == expected)
    }

    /// Slicing-by-8 against the plain bit-at-a-time definition, at every length and alignment up to 70.
    @Test func slicingMatchesTheDefinition() {
        func reference(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                c ^= UInt32(byte)
                for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        let data = (0..<80).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }
        for start in 0..<8 {
            for end in start...min(start + 70, data.count) {
                let slice = Array(data[start..<end])
                #expect(CRC32C.checksum(slice) == reference(slice), "bytes \(start)..<\(end)")
            }
        }
    }

    @Test func continuingEqualsTheWhole() {
        let a = Array("12345".utf8)
        let b = Array("6789".utf8)
        #expect(CRC32C.checksum(b, continuing: CRC32C.checksum(a)) == 0xE306_9283)
    }
}
