extension DemoReport {
    /// The report as a fixed-width table with a short legend, for a terminal.
    public var table: String {
        let header = ["case", "user", "event", "stamp sent", "truth in store", "verdict", "SDK got", "reached Segment"]
        let cells = rows.map { row in
            [
                row.name, row.user, row.event,
                row.stampSent.map(Self.set) ?? "(no stamp)",
                row.truth.map(Self.set) ?? "(unknown user)",
                Self.verdict(row),
                "\(row.status)",
                Self.outcome(row.outcome),
            ]
        }
        var widths = header.map(\.count)
        for line in cells {
            for (column, cell) in line.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        func render(_ line: [String]) -> String {
            line.enumerated().map { column, cell in
                column == line.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }
        var lines = [render(header), render(widths.map { String(repeating: "-", count: $0) })]
        lines += cells.map(render)
        lines.append("")
        lines.append("{...} lists the categories a stamp or the store grants; every other category is denied.")
        lines.append("Drops answer 200 like Segment, so SDKs do not retry them; every drop and restamp is in the audit log.")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func set(_ granted: [String]) -> String {
        "{" + granted.joined(separator: ", ") + "}"
    }

    private static func verdict(_ row: DemoRow) -> String {
        var reasons: [String] = []
        if !row.over.isEmpty { reasons.append("over: " + row.over.joined(separator: ", ")) }
        if !row.under.isEmpty { reasons.append("under: " + row.under.joined(separator: ", ")) }
        return reasons.isEmpty ? row.verdict : "\(row.verdict) (\(reasons.joined(separator: "; ")))"
    }

    private static func outcome(_ outcome: DemoOutcome) -> String {
        switch outcome {
        case .forwarded: "forwarded as sent"
        case .dropped: "dropped"
        case .restamped(let granted): "restamped to \(set(granted))"
        }
    }
}
