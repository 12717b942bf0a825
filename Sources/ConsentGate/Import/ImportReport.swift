/// What a `consent import` did.
public struct ImportReport: Sendable, Hashable {
    /// Records written to the store: one per non-blank line. A subject given on two lines counts twice
    /// (the later line wins in the store).
    public var subjects: Int
    /// Lines read, blank ones included.
    public var lines: Int
    /// Reading, parsing and writing, from the first byte read to the last commit.
    public var duration: Duration

    public init(subjects: Int, lines: Int, duration: Duration) {
        self.subjects = subjects
        self.lines = lines
        self.duration = duration
    }

    /// Subjects written per second.
    public var rate: Double {
        let seconds = duration.seconds
        return seconds > 0 ? Double(subjects) / seconds : Double(subjects)
    }

    /// The line the command prints: `imported 1000000 subjects in 9.20 s (108720/s)`.
    public var summary: String {
        let hundredths = Int((duration.seconds * 100).rounded())
        let fraction = hundredths % 100
        return "imported \(subjects) subject\(subjects == 1 ? "" : "s") in \(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) s (\(Int(rate.rounded()))/s)"
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
