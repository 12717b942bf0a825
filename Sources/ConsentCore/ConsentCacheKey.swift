#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A key of ``ConsentCache`` whose identity is its bytes.
///
/// Subject ids are compared byte for byte, as the stores compare them (two canonically equivalent
/// spellings are two subjects), which also lets the enforcer look a subject up straight from the
/// request body without making a `String` of it.
public protocol ConsentCacheKey: Hashable, Sendable {
    /// Calls `body` with the key's bytes (for a `String`, its UTF-8).
    func withKeyBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R

    /// The key whose ``withKeyBytes(_:)`` gives these bytes (the cache keeps keys as bytes).
    init(keyBytes: UnsafeRawBufferPointer)
}

extension String: ConsentCacheKey {
    @inlinable
    public func withKeyBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        // Native strings are contiguous: this neither copies nor allocates.
        if let result = utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return result }
        var copy = self
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// The bytes come from a `String`'s UTF-8, so decoding them repairs nothing.
    @inlinable
    public init(keyBytes: UnsafeRawBufferPointer) {
        self.init(decoding: keyBytes, as: UTF8.self)
    }
}

/// The hash the cache files keys under: a keyed multiply-xorshift over the key's bytes, 8 at a time.
///
/// Subject ids come from clients, so the hash takes a seed drawn at random per cache (a fixed hash
/// would let a client pick ids that collide and make every probe long). `Hasher` would do, but its
/// set-up alone costs more than hashing a 36-byte id this way.
@usableFromInline
enum ConsentCacheHash {
    @inline(__always) @usableFromInline
    static func of(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt32 {
        var hash = seed ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15)
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = mix(hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        hash = mix(hash ^ tail)
        return UInt32(truncatingIfNeeded: hash ^ (hash >> 32))
    }

    /// SplitMix64's finalizer: every input bit affects every output bit.
    @inline(__always) @usableFromInline
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always) @usableFromInline
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}

/// A key hashed and compared by its bytes, for the cache's dictionaries (a `String`'s own `==` would
/// join two canonically equivalent ids into one subject).
struct ByteIdentity<Key: ConsentCacheKey>: Hashable, Sendable {
    let key: Key

    init(_ key: Key) { self.key = key }

    static func == (a: Self, b: Self) -> Bool {
        a.key.withKeyBytes { x in b.key.withKeyBytes { y in ConsentCacheHash.equal(x, y) } }
    }

    func hash(into hasher: inout Hasher) {
        key.withKeyBytes { hasher.combine(bytes: $0) }
    }
}
