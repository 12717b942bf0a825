import SegmentWire

/// Lets records with equal preferences share one array.
///
/// A million subjects typically hold a few dozen distinct preference sets; sharing them takes the
/// import's memory per subject from about 230 bytes to about 100, which is what lets a large write
/// window (see ``ConsentImporter``) stay in memory.
struct PreferenceInterner {
    /// Distinct sets remembered; past it, new sets are kept unshared (a file of all-distinct sets
    /// must not grow a second copy of itself).
    let limit: Int
    private var known: [[CategoryPreference]: [CategoryPreference]] = [:]

    init(limit: Int = 4096) {
        self.limit = limit
    }

    /// The shared array equal to `preferences`, remembering it when it is new.
    mutating func intern(_ preferences: [CategoryPreference]) -> [CategoryPreference] {
        if let shared = known[preferences] { return shared }
        if known.count < limit { known[preferences] = preferences }
        return preferences
    }
}
