import ConsentCore
import SegmentWire
import Testing

private let window = Duration.seconds(30)

private func decide(
    _ stampEntries: [CategoryPreference]?,
    _ lookup: LookupOutcome,
    policy: ConsentPolicy = ConsentPolicy(),
    gpc: Bool = false,
    preferenceUpdate: Bool = false
) -> ConsentDecision {
    VerdictEngine.decide(
        isPreferenceUpdate: preferenceUpdate,
        stamp: stampEntries,
        lookup: lookup,
        gpc: gpc,
        policy: policy,
        maxStaleGrant: window
    )
}

private let truth = record("u1", ["Advertising": false, "Analytics": true, "Functional": true], version: 9)

@Suite struct VerdictEngineTests {
    // MARK: Comparison, every verdict × compare mode

    @Test(arguments: ConsentPolicy.Compare.allCases)
    func consistent(compare: ConsentPolicy.Compare) {
        let decision = decide(
            stamp(["Analytics": true, "Advertising": false, "Functional": true]), .fresh(truth),
            policy: ConsentPolicy(compare: compare)
        )
        #expect(decision.verdict == .consistent)
        #expect(decision.decided == .forward && decision.effective == .forward)
        #expect(decision.over.isEmpty && decision.under.isEmpty)
        #expect(decision.recordVersion == 9)
        #expect(decision.restampPreferences == nil)
        #expect(decision.staleness == nil)
    }

    @Test(arguments: ConsentPolicy.Compare.allCases)
    func overGrantIsAMismatchInEveryMode(compare: ConsentPolicy.Compare) {
        let decision = decide(
            stamp(["Advertising": true, "Analytics": true, "Functional": true]), .fresh(truth),
            policy: ConsentPolicy(compare: compare)
        )
        #expect(decision.verdict == .mismatch(over: ["Advertising"], under: []))
        #expect(decision.over == ["Advertising"])
        #expect(decision.decided == .drop)
    }

    @Test(arguments: ConsentPolicy.Compare.allCases)
    func underGrantOnly(compare: ConsentPolicy.Compare) {
        let decision = decide(
            stamp(["Advertising": false, "Analytics": false, "Functional": true]), .fresh(truth),
            policy: ConsentPolicy(compare: compare)
        )
        #expect(decision.under == ["Analytics"])
        #expect(decision.over.isEmpty)
        switch compare {
        case .exact:
            #expect(decision.verdict == .mismatch(over: [], under: ["Analytics"]))
            #expect(decision.decided == .drop)
        case .noOvergrant:
            #expect(decision.verdict == .consistent)
            #expect(decision.decided == .forward)
        }
    }

    @Test(arguments: ConsentPolicy.Compare.allCases)
    func overAndUnder(compare: ConsentPolicy.Compare) {
        let decision = decide(
            stamp(["Advertising": true, "Analytics": false, "Functional": true, "Zebra": true]), .fresh(truth),
            policy: ConsentPolicy(compare: compare)
        )
        #expect(decision.verdict == .mismatch(over: ["Advertising", "Zebra"], under: ["Analytics"]))
    }

    @Test(arguments: ConsentPolicy.Compare.allCases)
    func absentCategoriesAreNotGranted(compare: ConsentPolicy.Compare) {
        let policy = ConsentPolicy(compare: compare)
        // Absent from the stamp, granted by the truth: under-granted.
        #expect(decide(stamp(["Analytics": true]), .fresh(truth), policy: policy).under == ["Functional"])
        // Absent from the truth, granted by the stamp: over-granted.
        #expect(decide(stamp(["Analytics": true, "Functional": true, "Sales": true]), .fresh(truth), policy: policy).over == ["Sales"])
        // Absent from the truth, denied by the stamp: consistent.
        #expect(
            decide(stamp(["Analytics": true, "Functional": true, "Sales": false]), .fresh(truth), policy: policy).verdict
                == .consistent
        )
        // An empty stamp against a truth that grants nothing.
        let deniesAll = record("u2", ["Analytics": false])
        #expect(decide(stamp([:]), .fresh(deniesAll), policy: policy).verdict == .consistent)
        #expect(decide(stamp([:]), .fresh(record("u3", [:])), policy: policy).verdict == .consistent)
        // An empty stamp against a truth that grants: under-granted.
        #expect(decide(stamp([:]), .fresh(truth), policy: policy).under == ["Analytics", "Functional"])
    }

    @Test func categoriesAreCaseSensitive() {
        let decision = decide(stamp(["analytics": true, "Functional": true]), .fresh(truth))
        #expect(decision.verdict == .mismatch(over: ["analytics"], under: ["Analytics"]))
    }

    @Test func stampOrderAndRepeatsDoNotMatter() {
        let shuffled = stamp(["Functional": true, "Advertising": false, "Analytics": true])
        #expect(decide(shuffled, .fresh(truth)).verdict == .consistent)
        // A repeated category counts with its last value.
        let repeated = stamp(["Advertising": true, "Analytics": true, "Functional": true, "Advertising": false])
        #expect(decide(repeated, .fresh(truth)).verdict == .consistent)
        let repeatedSorted = stamp(["Advertising": false, "Advertising": true, "Analytics": true, "Functional": true])
        #expect(decide(repeatedSorted, .fresh(truth)).verdict == .mismatch(over: ["Advertising"], under: []))
    }

    @Test func acceptsAnyCollectionOfEntries() {
        // As the scanner hands them over: a slice of the request's preferences.
        let all = stamp(["X": true, "Analytics": true, "Functional": true, "Advertising": false, "Y": false])
        let slice = all[1..<4]
        let decision = VerdictEngine.decide(
            isPreferenceUpdate: false, stamp: slice, lookup: .fresh(truth), gpc: false, policy: ConsentPolicy(),
            maxStaleGrant: window
        )
        #expect(decision.verdict == .consistent)
        let none: ArraySlice<CategoryPreference>? = nil
        #expect(
            VerdictEngine.decide(
                isPreferenceUpdate: false, stamp: none, lookup: .fresh(truth), gpc: false, policy: ConsentPolicy(),
                maxStaleGrant: window
            ).verdict == .missingStamp
        )
    }

    // MARK: Missing stamps, unknown subjects, outages, preference updates

    @Test(arguments: ConsentPolicy.OnMissingStamp.allCases, ConsentPolicy.Compare.allCases)
    func missingStamp(onMissingStamp: ConsentPolicy.OnMissingStamp, compare: ConsentPolicy.Compare) {
        let policy = ConsentPolicy(compare: compare, onMissingStamp: onMissingStamp)
        let decision = decide(nil, .fresh(truth), policy: policy)
        #expect(decision.verdict == .missingStamp)
        #expect(decision.recordVersion == 9)
        switch onMissingStamp {
        case .drop:
            #expect(decision.decided == .drop)
            #expect(decision.restampPreferences == nil)
        case .forward:
            #expect(decision.decided == .forward)
        case .restamp:
            #expect(decision.decided == .restamp)
            #expect(decision.restampPreferences == truth.preferences)
        }
        if onMissingStamp != .restamp {
            // The truth is not needed: an outage or an unknown subject does not change the verdict.
            #expect(decide(nil, .unavailable, policy: policy).verdict == .missingStamp)
            #expect(decide(nil, .unknown, policy: policy).verdict == .missingStamp)
        } else {
            // Restamping needs the truth.
            #expect(decide(nil, .unavailable, policy: policy).verdict == .storeUnavailable)
            #expect(decide(nil, .unknown, policy: policy).verdict == .unknownSubject)
        }
    }

    @Test(arguments: ConsentPolicy.OnUnknownSubject.allCases, ConsentPolicy.Compare.allCases)
    func unknownSubject(onUnknownSubject: ConsentPolicy.OnUnknownSubject, compare: ConsentPolicy.Compare) {
        let policy = ConsentPolicy(compare: compare, onUnknownSubject: onUnknownSubject)
        let decision = decide(stamp(["Analytics": true]), .unknown, policy: policy)
        #expect(decision.verdict == .unknownSubject)
        #expect(decision.decided == (onUnknownSubject == .drop ? .drop : .forward))
        #expect(decision.recordVersion == nil)
    }

    @Test(arguments: ConsentPolicy.OnStoreUnavailable.allCases, ConsentPolicy.Compare.allCases)
    func storeUnavailable(onStoreUnavailable: ConsentPolicy.OnStoreUnavailable, compare: ConsentPolicy.Compare) {
        let policy = ConsentPolicy(compare: compare, onStoreUnavailable: onStoreUnavailable)
        let decision = decide(stamp(["Analytics": true]), .unavailable, policy: policy)
        #expect(decision.verdict == .storeUnavailable)
        #expect(decision.decided == (onStoreUnavailable == .reject ? .reject : .drop))
        #expect(decision.effective == decision.decided)
    }

    @Test(arguments: [LookupOutcome.fresh(truth), .stale(truth, expiredFor: .seconds(3_600)), .unknown, .unavailable])
    func preferenceUpdatesPassUnderPass(lookup: LookupOutcome) {
        for policy in [ConsentPolicy(preferenceUpdates: .pass), ConsentPolicy(mode: .shadow, preferenceUpdates: .pass)] {
            for stampEntries in [nil, stamp(["Advertising": true])] {
                let decision = decide(stampEntries, lookup, policy: policy, gpc: true, preferenceUpdate: true)
                #expect(decision.verdict == .preferenceUpdate)
                #expect(decision.decided == .forward && decision.effective == .forward)
            }
        }
    }

    // MARK: preference_updates: no_overgrant

    /// The truth denies Advertising and grants Analytics and Functional.
    @Test func aPreferenceUpdateThatOvergrantsIsAMismatch() {
        for onMismatch in ConsentPolicy.OnMismatch.allCases {
            let decision = decide(
                stamp(["Advertising": true, "Analytics": true, "Functional": true]), .fresh(truth),
                policy: ConsentPolicy(onMismatch: onMismatch), preferenceUpdate: true)
            #expect(decision.verdict == .mismatch(over: ["Advertising"], under: []))
            #expect(decision.decided == (onMismatch == .drop ? .drop : .restamp))
        }
    }

    @Test func aPreferenceUpdateThatGrantsLessPassesEvenUnderExact() {
        let withdrawal = decide(stamp(["Advertising": false, "Analytics": false]), .fresh(truth), preferenceUpdate: true)
        #expect(withdrawal.verdict == .preferenceUpdate)
        #expect(withdrawal.decided == .forward)
        #expect(withdrawal.under == ["Analytics", "Functional"])
        let same = decide(stamp(["Advertising": false, "Analytics": true, "Functional": true]), .fresh(truth), preferenceUpdate: true)
        #expect(same.verdict == .preferenceUpdate)
    }

    @Test func aPreferenceUpdateWithoutTruthFollowsThePolicy() {
        #expect(decide(stamp(["Analytics": true]), .unknown, preferenceUpdate: true).verdict == .unknownSubject)
        #expect(decide(stamp(["Analytics": true]), .unavailable, preferenceUpdate: true).verdict == .storeUnavailable)
        #expect(decide(nil, .fresh(truth), preferenceUpdate: true).verdict == .missingStamp)
    }

    // MARK: Two stamps that may reach one event

    @Test func bothStampsMustAgreeWithTheTruth() {
        let agreeing = stamp(["Advertising": false, "Analytics": true, "Functional": true])[...]
        let overGranting = stamp(["Advertising": true, "Analytics": true, "Functional": true])[...]
        let underGranting = stamp(["Analytics": true])[...]
        func decide(_ own: ArraySlice<CategoryPreference>, _ shared: ArraySlice<CategoryPreference>?, _ policy: ConsentPolicy = ConsentPolicy())
            -> ConsentDecision
        {
            VerdictEngine.decide(
                isPreferenceUpdate: false, stamp: own, secondStamp: shared, lookup: .fresh(truth), gpc: false, policy: policy,
                maxStaleGrant: window)
        }
        #expect(decide(agreeing, agreeing).verdict == .consistent)
        #expect(decide(agreeing, nil).verdict == .consistent)
        #expect(decide(agreeing, overGranting).verdict == .mismatch(over: ["Advertising"], under: []))
        #expect(decide(overGranting, agreeing).verdict == .mismatch(over: ["Advertising"], under: []))
        #expect(decide(overGranting, underGranting).verdict == .mismatch(over: ["Advertising"], under: ["Functional"]))
        let restamped = decide(agreeing, overGranting, ConsentPolicy(onMismatch: .restamp))
        #expect(restamped.decided == .restamp)
        #expect(restamped.restampPreferences == truth.preferences)
        // Under no_overgrant an under-granting shared stamp is consistent, an over-granting one is not.
        #expect(decide(agreeing, underGranting, ConsentPolicy(compare: .noOvergrant)).verdict == .consistent)
        #expect(decide(underGranting, overGranting, ConsentPolicy(compare: .noOvergrant)).over == ["Advertising"])
    }

    @Test func preferenceUpdateEventName() {
        #expect(VerdictEngine.isPreferenceUpdate(eventName: Array("Segment Consent Preference Updated".utf8)))
        #expect(!VerdictEngine.isPreferenceUpdate(eventName: Array("Segment Consent Preference Updated ".utf8)))
        #expect(!VerdictEngine.isPreferenceUpdate(eventName: Array("segment consent preference updated".utf8)))
        #expect(!VerdictEngine.isPreferenceUpdate(eventName: [UInt8]()))
    }

    // MARK: Restamp

    @Test func restampWritesTheWholeTruthSorted() {
        let policy = ConsentPolicy(onMismatch: .restamp)
        let decision = decide(stamp(["Zebra": true, "Advertising": true]), .fresh(truth), policy: policy)
        #expect(decision.verdict == .mismatch(over: ["Advertising", "Zebra"], under: ["Analytics", "Functional"]))
        #expect(decision.decided == .restamp && decision.effective == .restamp)
        #expect(decision.restampPreferences == stamp(["Advertising": false, "Analytics": true, "Functional": true]))
        // A consistent event is forwarded as it is, not restamped.
        #expect(decide(stamp(["Analytics": true, "Functional": true]), .fresh(truth), policy: policy).restampPreferences == nil)
    }

    // MARK: GPC

    @Test(arguments: ConsentPolicy.Compare.allCases)
    func gpcDeniesItsCategories(compare: ConsentPolicy.Compare) {
        let grantsAll = record("u1", ["Advertising": true, "Analytics": true, "DataSharing": true], version: 3)
        let policy = ConsentPolicy(compare: compare, onMismatch: .restamp)
        let claims = stamp(["Advertising": true, "Analytics": true, "DataSharing": true])
        // Without GPC the stamp matches the truth.
        #expect(decide(claims, .fresh(grantsAll), policy: policy).verdict == .consistent)
        // With GPC the truth's GPC categories count as denied.
        let decision = decide(claims, .fresh(grantsAll), policy: policy, gpc: true)
        #expect(decision.verdict == .mismatch(over: ["Advertising", "DataSharing"], under: []))
        #expect(decision.restampPreferences == stamp(["Advertising": false, "Analytics": true, "DataSharing": false]))
        // A stamp that already denies them under GPC is consistent (not under-granted).
        let honest = stamp(["Advertising": false, "Analytics": true, "DataSharing": false])
        #expect(decide(honest, .fresh(grantsAll), policy: policy, gpc: true).verdict == .consistent)
        #expect(decide(stamp(["Analytics": true]), .fresh(grantsAll), policy: policy, gpc: true).verdict == .consistent)
    }

    @Test func gpcRestampAddsTheCategoriesAsDenied() {
        let policy = ConsentPolicy(onMissingStamp: .restamp)
        let decision = decide(nil, .fresh(record("u1", ["Analytics": true, "Zoo": true])), policy: policy, gpc: true)
        #expect(decision.decided == .restamp)
        #expect(
            decision.restampPreferences == stamp(["Advertising": false, "Analytics": true, "DataSharing": false, "Zoo": true])
        )
        // Without GPC only the record's categories.
        #expect(
            decide(nil, .fresh(record("u1", ["Analytics": true, "Zoo": true])), policy: policy).restampPreferences
                == stamp(["Analytics": true, "Zoo": true])
        )
    }

    @Test func gpcCategoriesComeFromThePolicy() {
        let grants = record("u1", ["Advertising": true, "Email": true])
        let policy = ConsentPolicy(gpcCategories: ["Email"])
        let decision = decide(stamp(["Advertising": true, "Email": true]), .fresh(grants), policy: policy, gpc: true)
        #expect(decision.verdict == .mismatch(over: ["Email"], under: []))
        let none = ConsentPolicy(gpcCategories: [])
        #expect(decide(stamp(["Advertising": true, "Email": true]), .fresh(grants), policy: none, gpc: true).verdict == .consistent)
    }

    // MARK: Stale records

    @Test(arguments: ConsentPolicy.OnMismatch.allCases)
    func staleDenyServesAfterTheGrantWindow(onMismatch: ConsentPolicy.OnMismatch) {
        let policy = ConsentPolicy(onMismatch: onMismatch)
        let claims = stamp(["Advertising": true, "Analytics": true, "Functional": true])
        let longAgo = decide(claims, .stale(truth, expiredFor: .seconds(3_600)), policy: policy)
        #expect(longAgo.verdict == .mismatch(over: ["Advertising"], under: []))
        // A restamp would assert the stale record's grants: past the window it becomes a drop.
        #expect(longAgo.decided == .drop && longAgo.effective == .drop)
        #expect(longAgo.restampPreferences == nil)
        #expect(longAgo.staleness == .seconds(3_600))
        #expect(longAgo.recordVersion == 9)
        // Within the window the policy's action stands.
        let recent = decide(claims, .stale(truth, expiredFor: .seconds(5)), policy: policy)
        #expect(recent.decided == (onMismatch == .drop ? .drop : .restamp))
        #expect(recent.staleness == .seconds(5))
    }

    @Test func staleGrantServesOnlyWithinTheWindow() {
        let claims = stamp(["Analytics": true, "Functional": true])
        for expiredFor in [Duration.zero, .seconds(1), .seconds(29), window] {
            let decision = decide(claims, .stale(truth, expiredFor: expiredFor))
            #expect(decision.verdict == .consistent, "expired \(expiredFor) ago")
            #expect(decision.decided == .forward)
        }
        for expiredFor in [window + .nanoseconds(1), .seconds(31), .seconds(86_400)] {
            let decision = decide(claims, .stale(truth, expiredFor: expiredFor))
            #expect(decision.verdict == .storeUnavailable, "expired \(expiredFor) ago")
            #expect(decision.decided == .reject)
            #expect(decision.staleness == expiredFor)
            #expect(decision.over.isEmpty && decision.under.isEmpty)
        }
        let dropping = ConsentPolicy(onStoreUnavailable: .drop)
        #expect(decide(claims, .stale(truth, expiredFor: .seconds(31)), policy: dropping).decided == .drop)
    }

    @Test func staleRestampOfAMissingStamp() {
        let policy = ConsentPolicy(onMissingStamp: .restamp)
        #expect(decide(nil, .stale(truth, expiredFor: .seconds(10)), policy: policy).decided == .restamp)
        let late = decide(nil, .stale(truth, expiredFor: .seconds(40)), policy: policy)
        #expect(late.verdict == .storeUnavailable)
        #expect(late.restampPreferences == nil)
    }

    @Test func staleUnderGrantOnlyIsNotADeny() {
        // Exact compare: the stamp denies what the stale truth grants. Dropping on the strength of a
        // record past the window is not a "stale deny": the stamp claims nothing the record denies.
        let claims = stamp(["Analytics": false, "Functional": true])
        #expect(decide(claims, .stale(truth, expiredFor: .seconds(10))).decided == .drop)
        #expect(decide(claims, .stale(truth, expiredFor: .seconds(40))).verdict == .storeUnavailable)
    }

    // MARK: Shadow mode

    @Test func shadowModeDecidesButForwards() {
        let policy = ConsentPolicy(mode: .shadow, onMismatch: .restamp)
        let cases: [([CategoryPreference]?, LookupOutcome, Verdict, ConsentAction)] = [
            (stamp(["Advertising": true, "Analytics": true, "Functional": true]), .fresh(truth),
             .mismatch(over: ["Advertising"], under: []), .restamp),
            (nil, .fresh(truth), .missingStamp, .drop),
            (stamp(["Analytics": true]), .unknown, .unknownSubject, .drop),
            (stamp(["Analytics": true]), .unavailable, .storeUnavailable, .reject),
            (stamp(["Analytics": true, "Functional": true]), .stale(truth, expiredFor: .seconds(99)), .storeUnavailable, .reject),
            (stamp(["Analytics": true, "Functional": true]), .fresh(truth), .consistent, .forward),
        ]
        for (entries, lookup, verdict, decided) in cases {
            let decision = decide(entries, lookup, policy: policy)
            #expect(decision.verdict == verdict)
            #expect(decision.decided == decided)
            #expect(decision.effective == .forward)
        }
    }
}

/// ``VerdictEngine/decide(stampGrants:truthGrants:version:gpc:policy:)``: the comparison by mask must
/// decide exactly as the comparison by name whenever it decides, and decline whenever that one does
/// not find the stamp consistent.
@Suite struct VerdictEngineMaskTests {
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func agreesWithTheComparisonByName(seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        let categories = ["Advertising", "Analytics", "DataSharing", "Functional", "Personalization"]
        let policies = [
            ConsentPolicy(), ConsentPolicy(compare: .noOvergrant), ConsentPolicy(mode: .shadow),
            ConsentPolicy(onMismatch: .restamp), ConsentPolicy(compare: .noOvergrant, onMismatch: .restamp, gpcCategories: []),
        ]
        func randomEntries() -> [CategoryPreference] {
            (0..<Int.random(in: 0...6, using: &rng)).map { _ in
                CategoryPreference(category: categories.randomElement(using: &rng)!, granted: Bool.random(using: &rng))
            }
        }
        var decidedByMask = 0
        for _ in 0..<2_000 {
            let truth = ConsentRecord(
                subject: "u", preferences: randomEntries(), version: Int64.random(in: 1...99, using: &rng),
                updatedAt: .init(timeIntervalSince1970: 0))
            let stampEntries = randomEntries()
            let policy = policies.randomElement(using: &rng)!
            let gpc = Bool.random(using: &rng)
            var ids = CategoryIDs()
            guard let truthGrants = ids.internGrantMask(truth.preferences) else {
                Issue.record("five categories always get bits")
                return
            }
            let byName = VerdictEngine.decide(
                isPreferenceUpdate: false, stamp: stampEntries, lookup: .fresh(truth), gpc: gpc, policy: policy, maxStaleGrant: window)
            // A stamp granting a category without a bit has no mask (even if a later entry denies it
            // again): it is compared by name.
            guard let stampGrants = ids.grantMask(stampEntries) else { continue }
            let byMask = VerdictEngine.decide(
                stampGrants: stampGrants, truthGrants: truthGrants, version: truth.version, gpc: gpc, policy: policy)
            if let byMask {
                decidedByMask += 1
                #expect(byMask == byName)
            } else if (!gpc || policy.gpcCategories.isEmpty) && policy.compare == .exact {
                // Declined without GPC: the grants differ, which `exact` calls a mismatch. (Under
                // `no_overgrant` an under-grant is consistent but must be named, so it is declined too.)
                #expect(byName.verdict != .consistent)
            }
        }
        #expect(decidedByMask > 100)  // the comparison is exercised, not skipped
    }
}
