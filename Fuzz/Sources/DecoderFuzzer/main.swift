// The decoder fuzzer: one libFuzzer input walks the request path of consentgate minus the sockets —
// inflate (with a cap), scan, per-event validation, verdicts against a deterministic in-memory truth,
// edits (keep / drop / restamp), re-encoding — and then checks invariants on every stage:
//
// - the scanner agrees with a small, obviously-correct recursive reference validator (RFC 8259, strict
//   UTF-8, paired surrogate escapes, the same depth limit) on whether the document is valid JSON and
//   on why not (`invalid_json` versus `nesting_too_deep`);
// - a scan never fails with a JSON error on a document the validator accepts, and never succeeds on
//   one it refuses;
// - every located string decodes, re-quotes and decodes again to the same text, and `equals` agrees;
// - the verdict engine agrees with a plain dictionary-based reference on over- and under-grants and
//   on the verdict, fails closed (enforce mode never forwards a mismatch or an event whose truth was
//   unavailable), and a restamp always carries its stamp and never grants a GPC category under GPC;
// - the re-encoded body scans again, holds exactly the kept events in order, keeps the envelope and
//   every kept event byte for byte, and a restamped event differs from the original only by its stamp
//   (replaced, or inserted with the minimal `consent` / `context` wrapper);
// - in enforce mode, what would be forwarded reads the same under every receiver's reading (Readings.swift):
//   the same subject as consentgate decided for, and no stamp granting what that subject's truth denies;
// - gzip round-trips, and every strict prefix of a gzip member is refused as `invalid_compression`.
//
// Input layout: byte 0 and byte 1 select the variant, the rest is the request body.
//   byte 0: bits 0-1 coding (0 identity, 1 the body is gzip, 2 the body is deflate, 3 the body is
//           gzipped here first), bit 2 single-event route, bits 3-5 its event type, bit 6 tiny limits,
//           bit 7 `Sec-GPC: 1`.
//   byte 1: bit 0 compare no_overgrant, bit 1 on_mismatch restamp, bits 2-3 on_missing_stamp
//           (drop, restamp, forward, restamp), bit 4 on_unknown_subject forward, bit 5
//           on_store_unavailable drop, bit 6 shadow mode, bit 7 no GPC categories.
// A failed invariant prints what failed (never more than offsets and codes) and aborts.
import ConsentCore
import FoundationEssentials
import Glibc
import SegmentWire

// MARK: - Failing

func fail(_ message: String) -> Never {
    let line = Array("DecoderFuzzer invariant failed: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fail(message()) }
}

// MARK: - Variant

struct Variant {
    enum Coding { case identity, gzip, deflate, gzipHere }

    var coding: Coding
    var route: TrackingRoute
    var limits: WireLimits
    var inflateLimit: Int
    var gpc: Bool
    var policy: ConsentPolicy
    /// A byte that picks the gzip level and where to cut a truncated copy.
    var extra: UInt8

    static let tinyLimits = WireLimits(maxEventBytes: 512, maxBatchBytes: 2_048, maxEventsPerBatch: 8, maxDepth: 6)

    init(_ b0: UInt8, _ b1: UInt8) {
        coding = [.identity, .gzip, .deflate, .gzipHere][Int(b0 & 3)]
        route = b0 & 4 == 0 ? .batch : .single(EventType.allCases[Int((b0 >> 3) & 7) % EventType.allCases.count])
        let tiny = b0 & 0x40 != 0
        limits = tiny ? Variant.tinyLimits : WireLimits()
        inflateLimit = tiny ? 4_096 : 128 * 1024
        gpc = b0 & 0x80 != 0
        policy = ConsentPolicy(
            mode: b1 & 0x40 == 0 ? .enforce : .shadow,
            compare: b1 & 1 == 0 ? .exact : .noOvergrant,
            onMismatch: b1 & 2 == 0 ? .drop : .restamp,
            onMissingStamp: [.drop, .restamp, .forward, .restamp][Int((b1 >> 2) & 3)],
            onUnknownSubject: b1 & 0x10 == 0 ? .drop : .forward,
            onStoreUnavailable: b1 & 0x20 == 0 ? .reject : .drop,
            gpcCategories: b1 & 0x80 == 0 ? ConsentPolicy.defaultGPCCategories : [],
            preferenceUpdates: (b0 ^ b1) & 0x08 == 0 ? .noOvergrant : .pass
        )
        extra = b0 ^ b1
    }
}

// MARK: - Deterministic truth

/// FNV-1a, 64 bits.
func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}

/// Categories a record may hold: the usual ones, one that needs escaping, and non-ASCII ones.
let knownCategories = ["Advertising", "Analytics", "DataSharing", "Functional", "Marketing", "Quote\"d\\", "Ünïcødé", "\u{1F36A}"]
let maxStaleGrant = Duration.seconds(60)

/// The truth of a subject, derived from its bytes: unknown, unavailable, a record (sometimes equal to
/// the event's own stamp, so that consistent events occur), fresh or stale.
func lookup(subject: String?, stamp: ArraySlice<CategoryPreference>?) -> LookupOutcome {
    guard let subject else { return .unknown }
    let hash = fnv1a(subject.utf8)
    let preferences: [CategoryPreference]
    if hash & 0x100 != 0, let stamp {
        preferences = Array(stamp)
    } else {
        preferences = knownCategories.indices.compactMap { index in
            hash >> (16 + 2 * index) & 1 == 0 ? nil
                : CategoryPreference(category: knownCategories[index], granted: hash >> (17 + 2 * index) & 1 != 0)
        }
    }
    let record = ConsentRecord(subject: subject, preferences: preferences, version: Int64(hash >> 40), updatedAt: Date(timeIntervalSince1970: 0))
    switch hash & 7 {
    case 0: return .unknown
    case 1: return .unavailable
    case 6, 7: return .stale(record, expiredFor: .seconds(Int(hash >> 8 & 127)))
    default: return .fresh(record)
    }
}

extension Verdict {
    var isMismatch: Bool {
        if case .mismatch = self { return true }
        return false
    }
}

// MARK: - Reference validator

/// A deliberately plain recursive-descent RFC 8259 validator, the differential reference for the
/// scanner. Depth counts arrays and objects, as the scanner does: `maxDepth` of them may nest.
struct ReferenceValidator {
    enum Failure: Error { case invalid, tooDeep }

    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0

    static func validate(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> WireError.Code? {
        var validator = ReferenceValidator(bytes: bytes, maxDepth: maxDepth)
        do throws(Failure) {
            validator.skipSpace()
            try validator.value(depth: 0)
            validator.skipSpace()
            if validator.i != bytes.count { throw Failure.invalid }
            return nil
        } catch {
            return error == .tooDeep ? .nestingTooDeep : .invalidJSON
        }
    }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    mutating func skipSpace() {
        while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 }
    }

    mutating func expect(_ b: UInt8) throws(Failure) {
        guard peek == b else { throw .invalid }
        i += 1
    }

    mutating func value(depth: Int) throws(Failure) {
        guard let b = peek else { throw .invalid }
        switch b {
        case UInt8(ascii: "{"):
            guard depth + 1 <= maxDepth else { throw .tooDeep }
            i += 1
            skipSpace()
            if peek == UInt8(ascii: "}") { i += 1; return }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw .invalid }
                try string()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}"))
                return
            }
        case UInt8(ascii: "["):
            guard depth + 1 <= maxDepth else { throw .tooDeep }
            i += 1
            skipSpace()
            if peek == UInt8(ascii: "]") { i += 1; return }
            while true {
                skipSpace()
                try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]"))
                return
            }
        case UInt8(ascii: "\""):
            try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            try number()
        }
    }

    mutating func literal(_ word: String) throws(Failure) {
        for b in word.utf8 { try expect(b) }
    }

    mutating func digits() throws(Failure) {
        guard let b = peek, b >= 0x30, b <= 0x39 else { throw .invalid }
        while let b = peek, b >= 0x30, b <= 0x39 { i += 1 }
    }

    mutating func number() throws(Failure) {
        if peek == UInt8(ascii: "-") { i += 1 }
        if peek == UInt8(ascii: "0") {
            i += 1
        } else {
            try digits()
        }
        if peek == UInt8(ascii: ".") {
            i += 1
            try digits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            try digits()
        }
    }

    mutating func hex4() throws(Failure) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let b = peek else { throw .invalid }
            let digit: UInt32
            switch b {
            case 0x30...0x39: digit = UInt32(b - 0x30)
            case 0x41...0x46: digit = UInt32(b - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(b - 0x61 + 10)
            default: throw .invalid
            }
            value = value * 16 + digit
            i += 1
        }
        return value
    }

    /// A string: no raw control characters, valid escapes with paired surrogates, and valid UTF-8
    /// (checked by the standard library on the raw bytes between escapes).
    mutating func string() throws(Failure) {
        i += 1
        var run = i
        func checkUTF8(_ from: Int, _ to: Int) throws(Failure) {
            guard from < to else { return }
            let raw = UnsafeBufferPointer(rebasing: bytes[from..<to])
            guard String(validating: raw, as: UTF8.self) != nil else { throw .invalid }
        }
        while true {
            guard let b = peek else { throw .invalid }
            if b == UInt8(ascii: "\"") {
                try checkUTF8(run, i)
                i += 1
                return
            }
            if b < 0x20 { throw .invalid }
            if b == UInt8(ascii: "\\") {
                try checkUTF8(run, i)
                i += 1
                guard let e = peek else { throw .invalid }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    let unit = try hex4()
                    if (0xDC00...0xDFFF).contains(unit) { throw .invalid }
                    if (0xD800...0xDBFF).contains(unit) {
                        try expect(UInt8(ascii: "\\"))
                        try expect(UInt8(ascii: "u"))
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw .invalid }
                    }
                default:
                    throw .invalid
                }
                run = i
                continue
            }
            i += 1
        }
    }
}

// MARK: - Helpers

func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
    bytes.withUnsafeBytes(body)
}

func scan(_ bytes: UnsafeRawBufferPointer, route: TrackingRoute, limits: WireLimits) -> Result<ScannedRequest, WireError> {
    Result { () throws(WireError) -> ScannedRequest in try BatchScanner(limits: limits).scan(bytes, route: route) }
}

/// Scans an encoded body again, with room for what the encoder may add (a stamp, an address, a context
/// one level deeper); a body that does not scan is a failed invariant.
func rescan(_ out: UnsafeRawBufferPointer, route: TrackingRoute, variant: Variant, what: String) -> ScannedRequest {
    var relaxed = variant.limits
    relaxed.maxDepth += 3
    relaxed.maxEventBytes = Int.max / 4
    relaxed.maxBatchBytes = Int.max / 4
    switch scan(out, route: route, limits: relaxed) {
    case .success(let value): return value
    case .failure(let error): fail("\(what) does not scan: \(error.code)")
    }
}

func slice(_ body: UnsafeRawBufferPointer, _ range: Range<Int>) -> [UInt8] {
    Array(body[range])
}

/// An event's fields with every range made relative to the event's start, and its stamp's entries
/// replaced by their values (entry indices differ between requests).
struct RelativeEvent: Equatable {
    var event: ScannedEvent
    var stampEntries: [CategoryPreference]?

    init(_ event: ScannedEvent, in request: ScannedRequest) {
        let d = event.range.lowerBound
        func shift(_ r: Range<Int>) -> Range<Int> { (r.lowerBound - d)..<(r.upperBound - d) }
        func shift(_ v: ValueRef?) -> ValueRef? { v.map { ValueRef(range: shift($0.range), kind: $0.kind, hasEscapes: $0.hasEscapes) } }
        func shift(_ o: ObjectRef?) -> ObjectRef? { o.map { ObjectRef(range: shift($0.range), isEmpty: $0.isEmpty) } }
        var e = event
        e.range = shift(e.range)
        e.userId = shift(e.userId)
        e.anonymousId = shift(e.anonymousId)
        e.messageId = shift(e.messageId)
        e.eventName = shift(e.eventName)
        e.groupId = shift(e.groupId)
        e.previousId = shift(e.previousId)
        e.context = shift(e.context)
        e.consent = shift(e.consent)
        e.libraryName = shift(e.libraryName)
        e.address = e.address.map { address in
            var shifted = AddressMember(member: shift(address.member), value: shift(address.value), isString: address.isString)
            shifted.ambiguous = address.ambiguous
            return shifted
        }
        stampEntries = e.stamp.map { Array(request.entries(of: $0)) }
        e.stamp = e.stamp.map { ConsentStamp(range: shift($0.range), entries: 0..<0) }
        self.event = e
    }
}

// MARK: - Stages

/// Strings the scanner located decode, re-quote, validate and decode again to the same text.
func checkStrings(_ request: ScannedRequest, body: UnsafeRawBufferPointer) {
    var refs: [ValueRef] = []
    for event in request.events {
        for ref in [event.userId, event.anonymousId, event.messageId, event.eventName, event.groupId, event.previousId] {
            if let ref { refs.append(ref) }
        }
    }
    for ref in [request.writeKey, request.sentAt] { if let ref { refs.append(ref) } }
    for ref in refs {
        check(ref.range.lowerBound >= 0 && ref.range.upperBound <= body.count, "a value range lies outside the body")
        let text = JSONString.decode(ref, in: body)
        check(JSONString.equals(ref, text, in: body), "equals() disagrees with decode() at \(ref.range)")
        if ref.kind == .number {
            check(ReferenceValidator.validate(UnsafeBufferPointer(rebasing: body.assumingMemoryBound(to: UInt8.self)[ref.range]), maxDepth: 1) == nil,
                  "a located number is not a JSON number at \(ref.range)")
            continue
        }
        check(body[ref.range.lowerBound] == UInt8(ascii: "\"") && body[ref.range.upperBound - 1] == UInt8(ascii: "\""),
              "a string range does not start and end with quotes at \(ref.range)")
        if !ref.hasEscapes {
            check(text.utf8.elementsEqual(body[(ref.range.lowerBound + 1)..<(ref.range.upperBound - 1)]),
                  "an unescaped string does not decode to its own bytes at \(ref.range)")
        }
        var quoted: [UInt8] = []
        JSONString.appendQuoted(text, to: &quoted)
        quoted.withUnsafeBytes { q in
            let valid = Result { () throws(WireError) in try BatchScanner.validate(q, maxDepth: 1) }
            check((try? valid.get()) != nil, "appendQuoted wrote invalid JSON for a string at \(ref.range)")
            let again = JSONString.decode(ValueRef(range: 0..<q.count, kind: .string, hasEscapes: true), in: q)
            check(again == text && again.utf8.elementsEqual(text.utf8), "a string does not survive quoting at \(ref.range)")
        }
    }
}

/// What consentgate decided an event for: its ids and, when it had the subject's record, the categories
/// the record grants (less the GPC categories under `Sec-GPC: 1`).
typealias Decided = (userId: String?, anonymousId: String?, granted: Set<String>?)

/// Decides every event as the gateway does and returns the edits, and what each was decided for.
func decideAll(_ request: ScannedRequest, body: UnsafeRawBufferPointer, variant: Variant) -> ([BatchEncoder.EventEdit], [Decided]) {
    let policy = variant.policy
    var decided: [Decided] = []
    let edits = request.events.map { event -> BatchEncoder.EventEdit in
        guard event.defect == nil else {
            decided.append((nil, nil, nil))
            return .drop
        }
        func nonEmpty(_ ref: ValueRef?) -> String? {
            guard let ref else { return nil }
            let text = JSONString.decode(ref, in: body)
            return text.isEmpty ? nil : text
        }
        let userId = nonEmpty(event.userId)
        let anonymousId = nonEmpty(event.anonymousId)
        let isUpdate = event.type == .track
            && event.eventName.map { JSONString.equals($0, VerdictEngine.preferenceUpdateEventName, in: body) } == true
        let stamp = request.effectiveStamp(of: event).map { request.entries(of: $0) }
        let second = request.secondStamp(of: event).map { request.entries(of: $0) }
        let needsTruth = policy.needsTruth(hasStamp: stamp != nil, isPreferenceUpdate: isUpdate)
        let outcome = needsTruth ? lookup(subject: userId ?? anonymousId, stamp: stamp) : .unknown
        let decision = VerdictEngine.decide(
            isPreferenceUpdate: isUpdate, stamp: stamp, secondStamp: second, lookup: outcome, gpc: variant.gpc, policy: policy,
            maxStaleGrant: maxStaleGrant)
        let denied = variant.gpc ? policy.gpcCategories : []
        let granted = outcome.record.map { Set($0.preferences.filter { $0.granted && !denied.contains($0.category) }.map(\.category)) }
        decided.append((userId, anonymousId, granted))

        // The comparison agrees with a plain reference: over the union of categories, a category absent
        // from a side is not granted, the stamp's last value of a repeated category counts, and GPC
        // categories count as denied by the truth.
        if !isUpdate, second == nil, let stamp, let record = outcome.record, decision.verdict == .consistent || decision.verdict.isMismatch {
            var stamped: [String: Bool] = [:]
            for entry in stamp { stamped[entry.category] = entry.granted }
            var truth: [String: Bool] = [:]
            for entry in record.preferences { truth[entry.category] = entry.granted }
            let denied = variant.gpc ? policy.gpcCategories : []
            var over: [String] = []
            var under: [String] = []
            for category in Set(stamped.keys).union(truth.keys).sorted() {
                let stampGrants = stamped[category] ?? false
                let truthGrants = (truth[category] ?? false) && !denied.contains(category)
                if stampGrants && !truthGrants { over.append(category) }
                if truthGrants && !stampGrants { under.append(category) }
            }
            check(decision.over == over, "over-grants \(decision.over.count) differ from the reference's \(over.count)")
            let consistent = policy.compare == .exact ? over.isEmpty && under.isEmpty : over.isEmpty
            check((decision.verdict == .consistent) == consistent, "the verdict differs from the reference's")
            check(decision.under == under, "under-grants \(decision.under.count) differ from the reference's \(under.count)")
        }

        // Two stamps: consistent only when each alone is.
        if let second, let record = outcome.record, decision.verdict == .consistent {
            for one in [stamp, second] {
                let alone = VerdictEngine.decide(
                    isPreferenceUpdate: false, stamp: one, lookup: .fresh(record), gpc: variant.gpc, policy: policy, maxStaleGrant: maxStaleGrant)
                check(alone.verdict == .consistent, "two stamps are consistent together but not each alone")
            }
        }

        // Fail closed.
        if policy.mode == .shadow { check(decision.effective == .forward, "shadow mode did not forward") }
        if policy.mode == .enforce && decision.effective == .forward && (!isUpdate || policy.preferenceUpdates == .noOvergrant) {
            if case .mismatch = decision.verdict { fail("enforce mode forwarded a mismatch") }
            check(decision.verdict != .storeUnavailable, "enforce mode forwarded an unverifiable event")
            if needsTruth, case .unavailable = outcome { fail("enforce mode forwarded an event whose truth was unavailable") }
            if decision.verdict == .consistent && policy.compare == .exact {
                check(decision.over.isEmpty && decision.under.isEmpty, "a consistent verdict with differences")
            }
            if decision.verdict == .consistent { check(decision.over.isEmpty, "a consistent verdict with over-grants") }
        }
        if isUpdate && policy.preferenceUpdates == .pass {
            check(decision.verdict == .preferenceUpdate && decision.effective == .forward, "a preference update was not forwarded")
        }
        if isUpdate && policy.preferenceUpdates == .noOvergrant && decision.effective == .forward && policy.mode == .enforce {
            check(decision.over.isEmpty, "a preference update that over-grants was forwarded")
        }
        check((decision.decided == .restamp) == (decision.restampPreferences != nil), "restamp without a stamp, or a stamp without restamp")
        if decision.decided == .restamp, case .stale(_, let expiredFor) = outcome {
            check(expiredFor <= maxStaleGrant, "a restamp asserted a record past the stale-grant window")
        }
        if let restamp = decision.restampPreferences, variant.gpc {
            for preference in restamp where policy.isGPCCategory(preference.category) {
                check(!preference.granted, "a restamp under Sec-GPC grants a GPC category")
            }
        }

        switch decision.effective {
        case .forward: return .keep
        case .drop, .reject: return .drop
        case .restamp: return .restamp(decision.restampPreferences ?? [])
        }
    }
    return (edits, decided)
}

/// The encoded body: scans again, keeps the envelope and the kept events byte for byte, and changes a
/// restamped event only by its stamp.
func checkEncoding(
    _ request: ScannedRequest, body: UnsafeRawBufferPointer, edits: [BatchEncoder.EventEdit], removeSharedStamp: Bool,
    decided: [Decided], variant: Variant
) {
    let kept = edits.indices.filter { edits[$0] != .drop }
    if policyEnforces(variant), !kept.isEmpty, !removeSharedStamp, kept.allSatisfy({ edits[$0] == .keep }), kept.count == edits.count {
        // Nothing changed: the original bytes go upstream.
        checkReadings(body, route: request.route, expected: kept.map { decided[$0] })
    }
    guard let encoded = BatchEncoder.encode(body: body, request: request, edits: edits, removeSharedStamp: removeSharedStamp) else {
        check(kept.isEmpty, "the encoder gave nothing although \(kept.count) events are kept")
        return
    }
    check(!kept.isEmpty, "the encoder gave a body although every event was dropped")

    encoded.withUnsafeBytes { out in
        let rescanned = rescan(out, route: request.route, variant: variant, what: "the re-encoded body")
        check(rescanned.events.count == kept.count, "the re-encoded body holds \(rescanned.events.count) events, expected \(kept.count)")
        if policyEnforces(variant) { checkReadings(out, route: request.route, expected: kept.map { decided[$0] }) }

        // The envelope.
        switch request.route {
        case .batch:
            guard let array = request.batchArray, let outArray = rescanned.batchArray else { fail("a batch without its array") }
            // The envelope is byte for byte the original's, less the shared stamp's member when it was removed.
            let cut = removeSharedStamp ? request.sharedStampMember : nil
            func envelope(_ range: Range<Int>) -> [UInt8] {
                guard let cut, cut.overlaps(range) else { return slice(body, range) }
                return slice(body, range.lowerBound..<cut.lowerBound) + slice(body, cut.upperBound..<range.upperBound)
            }
            check(envelope(0..<array.lowerBound) == slice(out, 0..<outArray.lowerBound), "the envelope before the batch changed")
            check(envelope(array.upperBound..<body.count) == slice(out, outArray.upperBound..<out.count), "the envelope after the batch changed")
            if removeSharedStamp {
                check(request.sharedStamp != nil && rescanned.sharedStamp == nil, "the shared stamp was not removed")
            } else {
                check(rescanned.sharedStamp.map { Array(rescanned.entries(of: $0)) } == request.sharedStamp.map { Array(request.entries(of: $0)) },
                      "the shared stamp changed")
            }
        case .single:
            let event = request.events[0]
            let outEvent = rescanned.events[0]
            check(slice(body, 0..<event.range.lowerBound) == slice(out, 0..<outEvent.range.lowerBound), "bytes before the event changed")
            check(slice(body, event.range.upperBound..<body.count) == slice(out, outEvent.range.upperBound..<out.count), "bytes after the event changed")
        }

        // The events.
        for (position, index) in kept.enumerated() {
            let original = request.events[index]
            let now = rescanned.events[position]
            check(now.defect == nil, "kept event \(index) became invalid: \(now.defect!.rawValue)")
            let before = slice(body, original.range)
            let after = slice(out, now.range)
            switch edits[index] {
            case .drop:
                fail("unreachable")
            case .keep:
                check(before == after, "kept event \(index) changed")
                // Removing the shared stamp leaves no kept event without a stamp of its own.
                check(!removeSharedStamp || original.stamp != nil, "kept event \(index) lost the shared stamp it relied on")
                check(RelativeEvent(original, in: request) == RelativeEvent(now, in: rescanned), "kept event \(index) scans differently")
            case .restamp(let preferences):
                guard let newStamp = now.stamp else { fail("restamped event \(index) has no stamp") }
                check(Array(rescanned.entries(of: newStamp)) == preferences, "restamped event \(index) carries another stamp")
                for pick in [\ScannedEvent.userId, \.anonymousId, \.messageId, \.eventName, \.groupId, \.previousId] {
                    let a = original[keyPath: pick].map { JSONString.decode($0, in: body) }
                    let b = now[keyPath: pick].map { JSONString.decode($0, in: out) }
                    check(a == b, "restamped event \(index) changed a field")
                }
                check(original.type == now.type, "restamped event \(index) changed its type")
                let e0 = original.range.lowerBound
                let n0 = now.range.lowerBound
                let newRange = (newStamp.range.lowerBound - n0)..<(newStamp.range.upperBound - n0)
                let stampBytes = Array(after[newRange])
                if let oldStamp = original.stamp {
                    let oldRange = (oldStamp.range.lowerBound - e0)..<(oldStamp.range.upperBound - e0)
                    check(Array(before[..<oldRange.lowerBound]) == Array(after[..<newRange.lowerBound])
                        && Array(before[oldRange.upperBound...]) == Array(after[newRange.upperBound...]),
                        "restamped event \(index) changed outside its stamp")
                } else {
                    // Inserted after the `{` of the innermost of consent, context or the event itself.
                    let wrapper: (String, String)
                    let at: Int
                    let hasMembers: Bool
                    if let consent = original.consent {
                        (at, hasMembers, wrapper) = (consent.range.lowerBound - e0 + 1, !consent.isEmpty, (#""categoryPreferences":"#, ""))
                    } else if let context = original.context {
                        (at, hasMembers, wrapper) = (context.range.lowerBound - e0 + 1, !context.isEmpty, (#""consent":{"categoryPreferences":"#, "}"))
                    } else {
                        let inner = before[1..<(before.count - 1)]
                        let blank = inner.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
                        (at, hasMembers, wrapper) = (1, !blank, (#""context":{"consent":{"categoryPreferences":"#, "}}"))
                    }
                    let inserted = Array(wrapper.0.utf8) + stampBytes + Array(wrapper.1.utf8) + (hasMembers ? [UInt8(ascii: ",")] : [])
                    check(after == Array(before[..<at]) + inserted + Array(before[at...]), "restamped event \(index) changed beyond the inserted stamp")
                }
            }
        }
    }
}

/// gzip round-trips, and every strict prefix of a member is refused.
func checkGzip(_ payload: UnsafeRawBufferPointer, variant: Variant) -> [UInt8]? {
    let compressed = Gzip.compress(payload, level: Int32(variant.extra % 10))
    let inflated = compressed.withUnsafeBytes { c in
        Result { () throws(WireError) -> [UInt8] in try Inflater.inflate(c, coding: .gzip, limit: variant.inflateLimit) }
    }
    switch inflated {
    case .success(let bytes):
        check(payload.count <= variant.inflateLimit, "a body over the inflate limit was inflated")
        check(bytes.elementsEqual(payload), "gzip did not round-trip")
    case .failure(let error):
        check(error.code == .payloadTooLarge && payload.count > variant.inflateLimit, "gzip round-trip failed: \(error.code)")
        return nil
    }
    let cut = Int(variant.extra) * compressed.count / 256
    let truncated = compressed.withUnsafeBytes { c in
        Result { () throws(WireError) -> [UInt8] in
            try Inflater.inflate(UnsafeRawBufferPointer(rebasing: c[..<cut]), coding: .gzip, limit: variant.inflateLimit)
        }
    }
    if case .failure(let error) = truncated {
        check(error.code == .invalidCompression, "a truncated gzip member gave \(error.code)")
    } else {
        fail("a gzip member cut at \(cut) of \(compressed.count) bytes inflated")
    }
    return compressed
}

/// Whether the variant's policy enforces (in shadow mode everything is forwarded as it came).
func policyEnforces(_ variant: Variant) -> Bool { variant.policy.mode == .enforce }

/// `DECODERFUZZER_TRACE=1` prints each input's edits (to see what a corpus exercises).
let trace = getenv("DECODERFUZZER_TRACE") != nil

func run(_ data: UnsafeRawBufferPointer) {
    guard data.count >= 2 else { return }
    let variant = Variant(data[0], data[1])
    let payload = UnsafeRawBufferPointer(rebasing: data[2...])

    // Decode.
    let body: [UInt8]
    switch variant.coding {
    case .identity:
        guard payload.count <= variant.inflateLimit else { return }
        body = Array(payload)
    case .gzip, .deflate:
        let coding: ContentCoding = variant.coding == .gzip ? .gzip : .deflate
        let result = Result { () throws(WireError) -> [UInt8] in
            try Inflater.inflate(payload, coding: coding, limit: variant.inflateLimit, using: .libdeflate)
        }
        // zlib alone (`ingress.inflater: zlib`) gives the same answer: the same bytes or the same error.
        let zlibOnly = Result { () throws(WireError) -> [UInt8] in
            try Inflater.inflate(payload, coding: coding, limit: variant.inflateLimit, using: .zlib)
        }
        check(result == zlibOnly, "libdeflate and zlib disagree on a \(coding.name) body")
        switch result {
        case .success(let bytes):
            check(bytes.count <= variant.inflateLimit, "inflate exceeded its limit")
            body = bytes
        case .failure(let error):
            check(error.code == .invalidCompression || error.code == .payloadTooLarge, "inflate failed with \(error.code)")
            return
        }
    case .gzipHere:
        guard checkGzip(payload, variant: variant) != nil else { return }
        body = Array(payload)
    }

    body.withUnsafeBytes { bytes in
        // The reference and the scanner's validator agree.
        let reference = ReferenceValidator.validate(bytes.assumingMemoryBound(to: UInt8.self), maxDepth: variant.limits.maxDepth)
        let validated = Result { () throws(WireError) in try BatchScanner.validate(bytes, maxDepth: variant.limits.maxDepth) }
        let validatorCode: WireError.Code?
        switch validated {
        case .success: validatorCode = nil
        case .failure(let error): validatorCode = error.code
        }
        check(reference == validatorCode, "validate() says \(validatorCode?.rawValue ?? "valid"), the reference \(reference?.rawValue ?? "valid")")

        let scanned: ScannedRequest
        switch scan(bytes, route: variant.route, limits: variant.limits) {
        case .failure(let error):
            switch error.code {
            case .invalidJSON, .nestingTooDeep:
                check(reference != nil, "the scan refused valid JSON as \(error.code)")
            case .invalidBatch, .invalidEvent, .eventTooLarge, .batchTooLarge, .tooManyEvents:
                break
            default:
                fail("the scan failed with \(error.code)")
            }
            check(!error.message.isEmpty, "an error without a message")
            return
        case .success(let request):
            check(reference == nil, "the scan accepted a document the reference refuses")
            scanned = request
        }

        // Structure of a successful scan.
        let maxBytes = variant.route.maxBodyBytes(variant.limits)
        check(bytes.count <= maxBytes, "a body over the size limit was scanned")
        switch variant.route {
        case .batch:
            check(scanned.batchArray != nil, "a scanned batch without its array")
            check(scanned.events.count <= variant.limits.maxEventsPerBatch, "more events than the limit")
        case .single:
            check(scanned.events.count == 1 && scanned.events[0].defect == nil, "a single-event scan without one valid event")
        }
        var previousEnd = 0
        for event in scanned.events {
            check(event.range.lowerBound >= previousEnd && event.range.upperBound <= bytes.count, "events overlap or leave the body")
            check(event.range.count <= variant.limits.maxEventBytes, "an event over the size limit was scanned")
            previousEnd = event.range.upperBound
            if let stamp = event.stamp { check(stamp.entries.upperBound <= scanned.preferences.count, "a stamp past the preferences") }
            if event.defect != .notAnObject { check(bytes[event.range.lowerBound] == UInt8(ascii: "{"), "an event that is not an object") }
        }
        checkStrings(scanned, body: bytes)

        let (decidedEdits, decided) = decideAll(scanned, body: bytes, variant: variant)
        let (edits, removeSharedStamp) = BatchEncoder.isolatingSharedStamp(scanned, edits: decidedEdits)
        if trace {
            var counts = (keep: 0, drop: 0, restamp: 0)
            for edit in edits {
                switch edit {
                case .keep: counts.keep += 1
                case .drop: counts.drop += 1
                case .restamp: counts.restamp += 1
                }
            }
            let line = Array("events \(edits.count) keep \(counts.keep) drop \(counts.drop) restamp \(counts.restamp)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        checkEncoding(scanned, body: bytes, edits: edits, removeSharedStamp: removeSharedStamp, decided: decided, variant: variant)
        checkAddressEdits(scanned, body: bytes, edits: edits, removeSharedStamp: removeSharedStamp, variant: variant)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
