import Testing
import WireTestSupport

@testable import Spool

@Suite struct CRC32CTests {
    /// Both implementations: the one `checksum` picks (the instruction on x86-64) and the software tables.
    static let implementations: [(String, @Sendable (UnsafeRawBufferPointer, UInt32) -> UInt32)] = [
        ("checksum", { CRC32C.checksum($0, continuing: $1) }),
        ("software", { CRC32C.softwareChecksum($0, continuing: $1) }),
    ]

    static func run(_ index: Int, _ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { implementations[index].1($0, crc) }
    }

    /// The check value of the CRC catalogue and the iSCSI vectors of RFC 3720 §B.4.
    @Test(arguments: [0, 1], [
        (Array("123456789".utf8), UInt32(0xE306_9283)),
        ([UInt8](), UInt32(0)),
        ([UInt8](repeating: 0, count: 32), UInt32(0x8A91_36AA)),
        ([UInt8](repeating: 0xFF, count: 32), UInt32(0x62A8_AB43)),
        ((0..<32).map { UInt8($0) }, UInt32(0x46DD_794E)),
        ((0..<32).map { UInt8(31 - $0) }, UInt32(0x113F_DB5C)),
    ])
    func knownVectors(implementation: Int, vector: ([UInt8], UInt32)) {
        #expect(Self.run(implementation, vector.0) == vector.1, "\(Self.implementations[implementation].0)")
    }

    /// Each implementation against the plain bit-at-a-time definition, at every length and alignment up to 70.
    @Test(arguments: [0, 1]) func matchesTheDefinition(implementation: Int) {
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
                #expect(Self.run(implementation, slice) == reference(slice), "bytes \(start)..<\(end)")
            }
        }
    }

    @Test(arguments: [0, 1]) func continuingEqualsTheWhole(implementation: Int) {
        let a = Array("12345".utf8)
        let b = Array("6789".utf8)
        #expect(Self.run(implementation, b, continuing: Self.run(implementation, a)) == 0xE306_9283)
    }

    /// A spool written with the instruction reads back with the tables and the other way round: the two
    /// agree on batch-sized buffers at odd offsets and continuations.
    @Test func instructionAndTablesAgree() {
        var generator = SplitMix64(seed: 0x5EED)
        for count in [1, 7, 8, 9, 63, 4096, 12_345, 100_001] {
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let seed = UInt32(truncatingIfNeeded: generator.next())
            let fast = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[1...]), continuing: seed) }
            let slow = bytes.withUnsafeBytes { CRC32C.softwareChecksum(UnsafeRawBufferPointer(rebasing: $0[1...]), continuing: seed) }
            #expect(fast == slow, "\(count) bytes")
        }
    }

    #if arch(x86_64)
    /// Every x86-64 server since 2008 has SSE 4.2: the instruction, not the tables, is what runs here.
    @Test func theInstructionIsUsedOnX86() {
        #expect(CRC32C.usesHardware)
    }
    #endif
}
