import ConsentCore
import Testing

private let everyVerdict: [Verdict] = [
    .consistent, .mismatch(over: ["A"], under: []), .mismatch(over: [], under: ["B"]), .missingStamp, .unknownSubject,
    .storeUnavailable, .preferenceUpdate,
]

/// Every combination of the policy's action settings, in one mode.
private func everyPolicy(mode: ConsentPolicy.Mode) -> [ConsentPolicy] {
    var policies: [ConsentPolicy] = []
    for compare in ConsentPolicy.Compare.allCases {
        for onMismatch in ConsentPolicy.OnMismatch.allCases {
            for onMissingStamp in ConsentPolicy.OnMissingStamp.allCases {
                for onUnknownSubject in ConsentPolicy.OnUnknownSubject.allCases {
                    for onStoreUnavailable in ConsentPolicy.OnStoreUnavailable.allCases {
                        policies.append(
                            ConsentPolicy(
                                mode: mode, compare: compare, onMismatch: onMismatch, onMissingStamp: onMissingStamp,
                                onUnknownSubject: onUnknownSubject, onStoreUnavailable: onStoreUnavailable
                            )
                        )
                    }
                }
            }
        }
    }
    return policies
}

@Suite struct ConsentPolicyTests {
    @Test func defaultsFailClosed() {
        let policy = ConsentPolicy()
        #expect(policy.mode == .enforce)
        #expect(policy.compare == .exact)
        #expect(policy.onMismatch == .drop)
        #expect(policy.onMissingStamp == .drop)
        #expect(policy.onUnknownSubject == .drop)
        #expect(policy.onStoreUnavailable == .reject)
        #expect(policy.gpcCategories == ["Advertising", "DataSharing"])
    }

    @Test func rawValuesAreTheConfigurationSpelling() {
        #expect(ConsentPolicy.Mode.allCases.map(\.rawValue) == ["enforce", "shadow"])
        #expect(ConsentPolicy.Compare.allCases.map(\.rawValue) == ["exact", "no_overgrant"])
        #expect(ConsentPolicy.OnMismatch.allCases.map(\.rawValue) == ["drop", "restamp"])
        #expect(ConsentPolicy.OnMissingStamp.allCases.map(\.rawValue) == ["drop", "restamp", "forward"])
        #expect(ConsentPolicy.OnUnknownSubject.allCases.map(\.rawValue) == ["drop", "forward"])
        #expect(ConsentPolicy.OnStoreUnavailable.allCases.map(\.rawValue) == ["reject", "drop"])
        #expect(ConsentPolicy.Compare(rawValue: "no_overgrant") == .noOvergrant)
        #expect(ConsentPolicy.Compare(rawValue: "noOvergrant") == nil)
        #expect(ConsentAction.allCases.map(\.label) == ["forward", "drop", "restamp", "reject"])
    }

    @Test func verdictLabels() {
        #expect(everyVerdict.map(\.label) == [
            "consistent", "mismatch", "mismatch", "missing_stamp", "unknown_subject", "store_unavailable", "preference_update",
        ])
        #expect(Set(everyVerdict.map(\.label)) == Set(Verdict.allLabels))
    }

    @Test func everyVerdictTimesEveryAction() {
        for policy in everyPolicy(mode: .enforce) {
            for verdict in everyVerdict {
                let expected: ConsentAction =
                    switch verdict {
                    case .consistent, .preferenceUpdate: .forward
                    case .mismatch: ConsentAction(rawValue: policy.onMismatch.rawValue)!
                    case .missingStamp: ConsentAction(rawValue: policy.onMissingStamp.rawValue)!
                    case .unknownSubject: ConsentAction(rawValue: policy.onUnknownSubject.rawValue)!
                    case .storeUnavailable: ConsentAction(rawValue: policy.onStoreUnavailable.rawValue)!
                    }
                #expect(policy.decidedAction(for: verdict) == expected)
                let (decided, effective) = policy.actions(for: verdict)
                #expect(decided == expected)
                #expect(effective == expected)
            }
        }
    }

    @Test func shadowModeForwardsEverything() {
        for policy in everyPolicy(mode: .shadow) {
            var enforcing = policy
            enforcing.mode = .enforce
            for verdict in everyVerdict {
                let (decided, effective) = policy.actions(for: verdict)
                #expect(decided == enforcing.decidedAction(for: verdict))
                #expect(effective == .forward)
            }
        }
        for action in ConsentAction.allCases {
            #expect(ConsentPolicy(mode: .shadow).effectiveAction(for: action) == .forward)
            #expect(ConsentPolicy(mode: .enforce).effectiveAction(for: action) == action)
        }
    }

    @Test func specificMappings() {
        let restamping = ConsentPolicy(onMismatch: .restamp, onMissingStamp: .forward, onUnknownSubject: .forward, onStoreUnavailable: .drop)
        #expect(restamping.actions(for: .mismatch(over: ["A"], under: [])) == (.restamp, .restamp))
        #expect(restamping.actions(for: .missingStamp) == (.forward, .forward))
        #expect(restamping.actions(for: .unknownSubject) == (.forward, .forward))
        #expect(restamping.actions(for: .storeUnavailable) == (.drop, .drop))
        let strict = ConsentPolicy()
        #expect(strict.actions(for: .storeUnavailable) == (.reject, .reject))
        #expect(strict.actions(for: .preferenceUpdate) == (.forward, .forward))
    }

    @Test func needsTruth() {
        let dropping = ConsentPolicy()
        #expect(dropping.needsTruth(hasStamp: true, isPreferenceUpdate: false))
        #expect(!dropping.needsTruth(hasStamp: false, isPreferenceUpdate: false))
        // preference_updates: no_overgrant checks a preference update's stamp against the truth.
        #expect(dropping.needsTruth(hasStamp: true, isPreferenceUpdate: true))
        #expect(!dropping.needsTruth(hasStamp: false, isPreferenceUpdate: true))
        let restamping = ConsentPolicy(onMissingStamp: .restamp)
        #expect(restamping.needsTruth(hasStamp: false, isPreferenceUpdate: false))
        #expect(restamping.needsTruth(hasStamp: false, isPreferenceUpdate: true))
        let passing = ConsentPolicy(onMissingStamp: .restamp, preferenceUpdates: .pass)
        #expect(!passing.needsTruth(hasStamp: true, isPreferenceUpdate: true))
        #expect(!passing.needsTruth(hasStamp: false, isPreferenceUpdate: true))
    }

    @Test func gpcCategoriesAreCaseSensitive() {
        let policy = ConsentPolicy()
        #expect(policy.isGPCCategory("Advertising"))
        #expect(policy.isGPCCategory("DataSharing"[...]))
        #expect(!policy.isGPCCategory("advertising"))
        #expect(!policy.isGPCCategory("Analytics"))
    }
}
