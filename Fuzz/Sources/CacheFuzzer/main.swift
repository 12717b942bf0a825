// The cache fuzzer: one libFuzzer input is a program of operations on a small `ConsentCache` (lookups,
// fetches that succeed, fail or stay in flight, the batched lookup by bytes and hash with its
// prefetches, invalidations, the clock, `removeAll`, `markAllStale`), run under AddressSanitizer and
// checked after every operation against a plain reference model: dictionaries and an array in recency
// order, with the cache's exact rules (TTLs, negative entries, stale answers, fetch tokens, eviction of
// the least recently used entry, and the LRU slack).
//
// The cache keeps keys of up to 39 bytes inside its slots and longer ones aside, compares keys through
// unsafe pointers and prefetches through raw addresses: this is where a read past a key or a slot
// would hide. Keys come from a fixed pool around those boundaries (0, 38–41, 253–256 bytes, keys one
// byte apart, multi-byte UTF-8 straddling byte 39) or from the input itself.
//
// Input layout: byte 0 the capacity (0–47), byte 1 the LRU slack (0, or 1/8, 1/4, 1/2 of the capacity,
// by its low two bits) and whether records may name another subject than their key (bit 2); then
// operations, each an opcode byte followed by its operands (see `Program.run`). A failed check prints
// what failed (an operation index and a reason, never a key) and aborts.
import ConsentCore
import FoundationEssentials
import Glibc
import SegmentWire

// MARK: - Failing

func fail(_ message: String) -> Never {
    let line = Array("CacheFuzzer invariant failed: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fail(message()) }
}

// MARK: - Input

/// Reads the input front to back; 0 once it is exhausted.
struct Reader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    var atEnd: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(position + count, bytes.count)
        defer { position = end }
        return Array(bytes[position..<end])
    }
}

// MARK: - Keys

/// Keys around the cache's boundaries: the 39 bytes a slot holds, the marker bytes 254 and 255 that a
/// slot's length byte never takes, keys equal but for their last byte, and UTF-8 that straddles byte 39.
let keyPool: [String] = {
    var keys: [String] = []
    for length in [0, 1, 2, 7, 36, 38, 39, 40, 41, 63, 64, 128, 253, 254, 255, 256, 300] {
        let body = String(repeating: "k", count: max(length - 1, 0))
        keys.append(length == 0 ? "" : body + "a")
        if length > 0 { keys.append(body + "b") }
    }
    keys.append(String(repeating: "x", count: 38) + "é")  // 40 bytes, the last character split at 39
    keys.append(String(repeating: "x", count: 37) + "é")  // 39 bytes
    keys.append(String(repeating: "x", count: 36) + "€")  // 39 bytes, three-byte character
    keys.append(String(repeating: "x", count: 37) + "€")  // 40 bytes
    keys.append("user-🙂-" + String(repeating: "y", count: 30))
    return keys
}()

/// The key an operand names: one of ``keyPool``, or (high bit set) a key made of the next bytes.
func readKey(_ reader: inout Reader) -> String {
    let selector = reader.byte()
    if selector & 0x80 == 0 { return keyPool[Int(selector) % keyPool.count] }
    let length = Int(reader.byte()) + (selector & 0x40 != 0 ? 200 : 0)
    return String(decoding: reader.take(length), as: UTF8.self)
}

// MARK: - Records

let categories = ["Advertising", "Analytics", "Functional", "DataSharing", "Personalization"]

/// A record for `key` from one operand byte: `nil` (the store does not know the subject) for 0, else
/// grants over a few categories, a version, and (when the variant allows) another subject than the key.
func readRecord(_ reader: inout Reader, key: String, otherSubjects: Bool) -> ConsentRecord? {
    let b = reader.byte()
    guard b != 0 else { return nil }
    // Bits 0-4: the first three categories are always listed, granted or denied by their bit; the last
    // two are listed (granted) only when their bit is set, so records differ in their category sets too.
    let preferences = categories.enumerated().compactMap { index, category -> CategoryPreference? in
        let granted = b & (1 << index) != 0
        return index < 3 || granted ? CategoryPreference(category: category, granted: granted) : nil
    }
    let subject = otherSubjects && b & 0x80 != 0 ? key + "#other" : key
    return ConsentRecord(
        subject: subject, preferences: preferences, version: Int64(b >> 5),
        updatedAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(b)))
}

// MARK: - Reference model

/// What the cache should hold: entries by key, their recency, the fetches in flight, and the LRU
/// slack's bookkeeping (`moves`, and per entry when it last went to the front).
struct Model {
    struct Entry {
        var record: ConsentRecord?
        var expiry: Int64
        var movedAt: UInt32
    }

    let capacity: Int
    let slack: UInt32
    var entries: [String: Entry] = [:]
    /// Most recently used first.
    var recency: [String] = []
    var inFlight: [String: ConsentCache<String>.FetchToken] = [:]
    var moves: UInt32 = 0

    func fresh(_ key: String, now: Int64) -> Entry? {
        guard let entry = entries[key], now < entry.expiry else { return nil }
        return entry
    }

    mutating func moveToFront(_ key: String, always: Bool) {
        guard recency.first != key else { return }
        guard always || moves &- entries[key]!.movedAt >= slack else { return }
        recency.removeAll { $0 == key }
        linkFront(key)
    }

    mutating func linkFront(_ key: String) {
        moves &+= 1
        entries[key]!.movedAt = moves
        recency.insert(key, at: 0)
    }

    mutating func insert(_ key: String, record: ConsentRecord?, expiry: Int64) {
        if entries[key] != nil {
            entries[key]!.record = record
            entries[key]!.expiry = expiry
            moveToFront(key, always: true)
            return
        }
        guard capacity > 0 else { return }
        if entries.count >= capacity {
            entries[recency.removeLast()] = nil
        }
        entries[key] = Entry(record: record, expiry: expiry, movedAt: 0)
        linkFront(key)
    }

    mutating func remove(_ key: String) {
        inFlight[key] = nil
        guard entries.removeValue(forKey: key) != nil else { return }
        recency.removeAll { $0 == key }
    }
}

// MARK: - The program

struct NoRandomness: RandomNumberGenerator {
    mutating func next() -> UInt64 { 0 }  // jitter is 0: never drawn
}

struct Program {
    static let ttl: Int64 = 8_000_000_000
    static let negativeTTL: Int64 = 3_000_000_000

    var cache: ConsentCache<String>
    var model: Model
    var now: Int64 = 0
    var otherSubjects: Bool
    var step = 0
    var rng = NoRandomness()

    init(_ reader: inout Reader) {
        let capacity = Int(reader.byte() % 48)
        let variant = reader.byte()
        let slack = [0, 0.125, 0.25, 0.5][Int(variant & 3)]
        otherSubjects = variant & 4 != 0
        cache = ConsentCache(
            configuration: .init(
                capacity: capacity, ttl: .nanoseconds(Self.ttl), negativeTTL: .nanoseconds(Self.negativeTTL),
                jitter: 0, lruSlack: slack))
        model = Model(capacity: capacity, slack: UInt32(Double(capacity) * slack))
    }

    var instant: CacheInstant { CacheInstant(nanoseconds: now) }

    mutating func run(_ reader: inout Reader) {
        while !reader.atEnd && step < 4_096 {
            step += 1
            switch reader.byte() % 10 {
            case 0, 1, 2: lookup(&reader)
            case 3: completeInFlight(&reader)
            case 4: lookUpByBytes(&reader)
            case 5:
                let key = readKey(&reader)
                cache.invalidate(key)
                model.remove(key)
            case 6: now += Int64(reader.byte() % 16) * 1_000_000_000
            case 7: staleToken(&reader)
            case 8: prefetchOnly(&reader)
            default: clearOrExpire(&reader)
            }
            checkStorage()
        }
    }

    /// `lookup`, then (by the next operand) the fetch it asks for succeeds, fails or stays in flight.
    mutating func lookup(_ reader: inout Reader) {
        let key = readKey(&reader)
        let action = cache.lookup(key, now: instant)
        if let entry = model.fresh(key, now: now) {
            check(action == (entry.record.map { .hit($0) } ?? .negativeHit), "step \(step): lookup of a fresh entry answered \(kind(action))")
            model.moveToFront(key, always: false)
            return
        }
        if let token = model.inFlight[key] {
            check(action == .join(token), "step \(step): lookup with a fetch in flight answered \(kind(action))")
            return
        }
        guard case .fetch(let token) = action else { fail("step \(step): lookup of a missing or expired entry answered \(kind(action))") }
        check(!model.inFlight.values.contains(token), "step \(step): a fetch token was handed out twice")
        model.inFlight[key] = token
        finish(key, token: token, how: reader.byte(), &reader)
    }

    /// Completes one fetch still in flight (chosen by the operand), if any.
    mutating func completeInFlight(_ reader: inout Reader) {
        let choice = Int(reader.byte())
        guard !model.inFlight.isEmpty else { return }
        let keys = model.inFlight.keys.sorted()
        let key = keys[choice % keys.count]
        finish(key, token: model.inFlight[key]!, how: reader.byte() | 1, &reader)
    }

    /// `how` % 4: 0 leaves the fetch in flight, 1 fails it, else it succeeds with a record read next.
    mutating func finish(_ key: String, token: ConsentCache<String>.FetchToken, how: UInt8, _ reader: inout Reader) {
        switch how % 4 {
        case 0:
            return
        case 1:
            let outcome = cache.fetchFailed(key, token: token, now: instant)
            if model.inFlight[key] == token { model.inFlight[key] = nil }
            check(outcome == expectedFailure(key), "step \(step): a failed fetch gave \(outcome.label)")
        default:
            let record = readRecord(&reader, key: key, otherSubjects: otherSubjects)
            let outcome = cache.fetchSucceeded(key, token: token, record: record, now: instant, using: &rng)
            check(outcome == (record.map(LookupOutcome.fresh) ?? .unknown), "step \(step): a fetch's outcome is not its answer")
            if model.inFlight[key] == token {
                model.inFlight[key] = nil
                model.insert(key, record: record, expiry: now + (record == nil ? Self.negativeTTL : Self.ttl))
            }
        }
    }

    func expectedFailure(_ key: String) -> LookupOutcome {
        guard let entry = model.entries[key] else { return .unavailable }
        if now < entry.expiry { return entry.record.map(LookupOutcome.fresh) ?? .unknown }
        guard let record = entry.record else { return .unavailable }
        return .stale(record, expiredFor: .nanoseconds(now - entry.expiry))
    }

    /// A fetch answered with a token the cache no longer waits for (the key was invalidated meanwhile):
    /// its answer must not be cached.
    mutating func staleToken(_ reader: inout Reader) {
        let key = readKey(&reader)
        guard model.fresh(key, now: now) == nil, model.inFlight[key] == nil else { return }
        guard case .fetch(let token) = cache.lookup(key, now: instant) else { fail("step \(step): expected a fetch") }
        cache.invalidate(key)
        model.remove(key)
        let record = readRecord(&reader, key: key, otherSubjects: otherSubjects)
        _ = cache.fetchSucceeded(key, token: token, record: record, now: instant, using: &rng)
    }

    /// The enforcer's path: hash the bytes, prefetch bucket and slot, look up by hash; then, by the
    /// operand, answer from the entry (which touches it) or leave it untouched.
    mutating func lookUpByBytes(_ reader: inout Reader) {
        let key = readKey(&reader)
        let answer = reader.byte() & 1 != 0
        var bytes = Array(key.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            let raw = UnsafeRawBufferPointer(buffer)
            let hash = cache.hash(bytes: raw)
            cache.prefetchBucket(hash: hash)
            cache.prefetchSlot(hash: hash)
            let entry = cache.freshEntry(bytes: raw, hash: hash, now: instant)
            let plain = cache.freshEntry(bytes: raw, now: instant)
            check((entry == nil) == (plain == nil), "step \(step): the lookups by hash and by bytes disagree")
            guard let expected = model.fresh(key, now: now) else {
                check(entry == nil, "step \(step): a fresh entry for a key the model has not (or has expired)")
                return
            }
            guard let entry else { fail("step \(step): no fresh entry for a key the model holds fresh") }
            check(entry.isNegative == (expected.record == nil), "step \(step): negative entry mismatch")
            check(cache.version(of: entry) == (expected.record?.version ?? 0), "step \(step): version mismatch")
            if let record = expected.record, let mask = cache.grantMask(of: entry) {
                // Granted categories always have a bit (else there is no mask); denied ones may not.
                for preference in record.preferences {
                    guard let bit = cache.categories.bit(of: preference.category) else {
                        check(!preference.granted, "step \(step): a masked grant without a bit")
                        continue
                    }
                    check((mask >> UInt64(bit)) & 1 == (preference.granted ? 1 : 0), "step \(step): grant mask mismatch")
                }
                check(mask.nonzeroBitCount == record.preferences.filter(\.granted).count, "step \(step): grant mask has extra bits")
            }
            // The caller's buffer may be reused at once: scribble over it before the answer.
            for index in buffer.indices { buffer[index] = 0xFF }
            guard answer else { return }
            check(cache.answer(entry) == (expected.record.map { .hit($0) } ?? .negativeHit), "step \(step): answer mismatch")
            model.moveToFront(key, always: false)
        }
    }

    /// Prefetches for a key that may not exist, and an `expiry(of:)` probe: neither changes anything.
    mutating func prefetchOnly(_ reader: inout Reader) {
        let key = readKey(&reader)
        let hash = Array(key.utf8).withUnsafeBytes { cache.hash(bytes: $0) }
        cache.prefetchBucket(hash: hash)
        cache.prefetchSlot(hash: hash)
        check(cache.expiry(of: key)?.nanoseconds == model.entries[key]?.expiry, "step \(step): expiry mismatch")
    }

    mutating func clearOrExpire(_ reader: inout Reader) {
        switch reader.byte() % 8 {
        case 0:
            cache.removeAll()
            model.entries.removeAll()
            model.recency.removeAll()
            model.inFlight.removeAll()
        case 1:
            cache.markAllStale(now: instant)
            for key in model.entries.keys { model.entries[key]!.expiry = min(model.entries[key]!.expiry, now) }
            model.inFlight.removeAll()
        default:
            break
        }
    }

    func checkStorage() {
        check(cache.count == model.entries.count, "step \(step): count \(cache.count), model \(model.entries.count)")
        check(cache.fetchesInFlight == model.inFlight.count, "step \(step): fetches in flight mismatch")
        check(cache.keysByRecency() == model.recency, "step \(step): recency order mismatch")
    }

    func kind(_ action: ConsentCache<String>.LookupAction) -> String {
        switch action {
        case .hit: "a hit"
        case .negativeHit: "a negative hit"
        case .fetch: "a fetch"
        case .join: "a join"
        }
    }
}

func run(_ input: UnsafeRawBufferPointer) {
    var reader = Reader(bytes: input)
    var program = Program(&reader)
    program.run(&reader)
    // Every key still held answers by key and by bytes.
    for key in program.model.recency {
        let byKey = program.cache.freshEntry(key, now: program.instant)
        check((byKey == nil) == (program.model.fresh(key, now: program.now) == nil), "end: a held key answers wrongly")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
